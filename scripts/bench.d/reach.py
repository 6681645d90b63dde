"""Revocation reach between two nodes on one Redis: a session made on node A is revoked there,
and node B is asked to verify its access token until it refuses; 200 times, over keep-alive
HTTP. Standard library only.

Usage: reach.py TESSERA_BINARY REDIS_URL
"""

import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time

ROUNDS = 200


def generated(binary, *args):
    """The last word a `tessera` command prints (a fresh key)."""
    out = subprocess.run([binary, *args], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


def start(binary, env):
    """A node on a free port: its process and the port it listens on."""
    workdir = tempfile.mkdtemp()
    log = open(os.path.join(workdir, "log"), "w+")
    node = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0"],
                            cwd=workdir, env=env, stdout=log, stderr=log)
    for _ in range(300):
        log.seek(0)
        listening = re.search(r"listening addr=127\.0\.0\.1:(\d+)", log.read())
        if listening:
            return node, int(listening.group(1))
        time.sleep(0.1)
    sys.exit("tessera did not start: " + open(log.name).read())


def main():
    binary, redis_url = sys.argv[1], sys.argv[2]
    admin = generated(binary, "api-key", "new")
    env = dict(os.environ,
               TESSERA_STORE=redis_url,
               TESSERA_REDIS_KEY_TAG="{reach-%s}" % secrets.token_hex(4),
               TESSERA_KEY_ENCRYPTION_KEY=generated(binary, "keys", "new-kek"),
               TESSERA_ADMIN_API_KEY=admin,
               TESSERA_LOG_LEVEL="warn,tessera_server::serve=info")
    nodes = [start(binary, env) for _ in range(2)]
    a, b = (http.client.HTTPConnection("127.0.0.1", port) for _, port in nodes)
    headers = {"authorization": "Bearer " + admin, "content-type": "application/json"}

    def call(conn, method, path, body=None):
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        reply = conn.getresponse()
        return reply.status, reply.read()

    waits = []
    try:
        for i in range(ROUNDS):
            status, body = call(a, "POST", "/v1/sessions", {"user_id": "bob-%d" % i})
            session = json.loads(body)
            token = {"access_token": session["access_token"]}
            assert call(b, "POST", "/v1/sessions/verify", token)[0] == 200
            assert call(a, "DELETE", "/v1/sessions/" + session["session_id"])[0] == 204
            revoked = time.perf_counter()
            while call(b, "POST", "/v1/sessions/verify", token)[0] != 401:
                pass
            waits.append(time.perf_counter() - revoked)
    finally:
        for node, _ in nodes:
            node.terminate()
    waits.sort()
    print("revocation reach A -> B over %d revocations: p50 %.3f ms, p99 %.3f ms"
          % (ROUNDS, waits[ROUNDS // 2 - 1] * 1000, waits[ROUNDS * 99 // 100 - 1] * 1000))


if __name__ == "__main__":
    main()

"""Redis memory per live session measured through the HTTP API (issue 15's measure).

Usage: api_footprint.py TESSERA_BINARY REDIS_URL [SESSIONS]

Starts `tessera serve` on REDIS_URL (a Redis of its own, emptied first), creates SESSIONS
sessions (one user each, a `role` claim, a browser's user agent and an address) with
POST /v1/sessions, and divides the growth of Redis's `used_memory`; then refreshes each once
with POST /v1/sessions/refresh and measures again. Everything the server keeps counts: the
session, its indexes, the creation's audit event, rate-limit state.
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
PORT = 18197


def redis_cli(url, *args):
    parsed = urllib.parse.urlparse(url)
    db = parsed.path.strip("/") or "0"
    cmd = ["redis-cli", "-p", str(parsed.port), "-n", db, *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def used_memory(url):
    for line in redis_cli(url, "INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise SystemExit("Redis reported no used_memory")


def call(conn, path, key, body):
    conn.request(
        "POST",
        path,
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    text = response.read()
    if response.status not in (200, 201):
        raise SystemExit(f"{path} answered {response.status}: {text[:200]!r}")
    return json.loads(text)


def main():
    binary, url = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    redis_cli(url, "FLUSHDB")
    work = tempfile.mkdtemp()
    kek = subprocess.run([binary, "keys", "new-kek"], check=True, capture_output=True, text=True)
    env = dict(
        os.environ,
        TESSERA_STORE=url,
        TESSERA_KEY_ENCRYPTION_KEY=kek.stdout.strip(),
        TESSERA_LOG_LEVEL="warn",
        TESSERA_RATE_LIMITS_REFRESH_SESSION="100000000/s",
    )
    server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{PORT}"], cwd=work, env=env)
    try:
        key_file = os.path.join(work, "tessera-data", "admin-api-key")
        for _ in range(300):
            if os.path.exists(key_file):
                try:
                    probe = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
                    probe.request("GET", "/readyz")
                    if probe.getresponse().status == 200:
                        break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            raise SystemExit("tessera did not become ready")
        with open(key_file) as f:
            key = f.read().strip()
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        before = used_memory(url)
        tokens = []
        for i in range(n):
            issued = call(
                conn,
                "/v1/sessions",
                key,
                {
                    # As long as the built-in sign-in's account ids (`usr_` is theirs alone).
                    "user_id": f"user-{i:021d}",
                    "claims": {"role": "member"},
                    "device": {"user_agent": USER_AGENT, "ip": f"203.0.113.{i % 250}"},
                },
            )
            tokens.append(issued["refresh_token"])
        created = (used_memory(url) - before) / n
        for token in tokens:
            call(conn, "/v1/sessions/refresh", key, {"refresh_token": token})
        refreshed = (used_memory(url) - before) / n
        print(f"bytes of Redis memory per live session through the API ({n} sessions, one a user)")
        print(f"created {created:.0f}, refreshed once {refreshed:.0f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

"""A real `tessera serve` for the tests: a temp data dir, a free loopback port, stopped after.

Shared by the kit's tests and the Flask example's (which puts this folder on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Dict, Optional

STARTUP_SECONDS = 30


def binary() -> str:
    """The server binary from ``TESSERA_BIN``; a missing one fails the test, saying what to do."""
    path = os.environ.get("TESSERA_BIN", "/var/tmp/tessera-bin/tessera")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no tessera binary at {path}: build it (cargo build -p tessera-server)"
                           " and set TESSERA_BIN, or run clients/python/scripts/test")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TesseraServer:
    """One server process over one data dir; :meth:`restart` keeps the dir and the port."""

    def __init__(self, extra_env: Optional[Dict[str, str]] = None) -> None:
        self.bin = binary()
        self.dir = tempfile.mkdtemp(prefix="tessera-pykit-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        self._env.update({
            # The kit's tests create many sessions for few users: the server's own rate limits
            # are tested in the server's suite.
            "TESSERA_RATE_LIMITS_LOGIN_USER": "off",
            "TESSERA_RATE_LIMITS_REFRESH_SESSION": "off",
            "TESSERA_RATE_LIMITS_VERIFY_SESSION": "off",
            **(extra_env or {}),
        })
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self.admin_key = ""

    def start(self) -> "TesseraServer":
        log = open(os.path.join(self.dir, "log"), "ab")
        self._proc = subprocess.Popen(
            [self.bin, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--log-level", "warn,tessera_server::serve=info"],
            cwd=self.dir, env=self._env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"tessera exited with {self._proc.returncode}:\n{self.log()}")
            if self._ready():
                self.admin_key = open(os.path.join(self.dir, "tessera-data", "admin-api-key")).read().strip()
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tessera did not start within {STARTUP_SECONDS}s:\n{self.log()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cli(self, *args: str) -> str:
        """Runs a `tessera` command on this server's data dir (the server stopped, for SQLite)."""
        done = subprocess.run([self.bin, *args], cwd=self.dir, env=self._env, check=True,
                              capture_output=True)
        return done.stdout.decode()

    def log(self) -> str:
        try:
            return open(os.path.join(self.dir, "log"), errors="replace").read()[-4000:]
        except OSError:
            return ""

    def api(self, method: str, path: str, body: Optional[dict] = None,
            key: Optional[str] = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {key or self.admin_key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else {}

    def create_key(self, name: str, scope: str) -> str:
        """A named API key of ``scope``, made over HTTP so the running server knows it at once."""
        return str(self.api("POST", "/v1/api-keys", {"name": name, "scope": scope})["key"])

    def backend_key(self) -> str:
        """The narrowest key that may create and revoke sessions: scope ``sessions``."""
        return self.create_key("backend", "sessions")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

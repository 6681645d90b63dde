"""A small Flask app on Tessera: the app signs users in itself, Tessera keeps the sessions.

Routes (JSON):
  POST /login                 {"user", "password"} -> access token; refresh token in a cookie
  GET  /api/profile           needs a session (Bearer access token); rate-limited per session
  GET  /api/sessions          the user's devices
  POST /refresh               refresh cookie + X-CSRF-Token header -> a new access token
  POST /logout                ends this session
  POST /logout-everywhere     ends every session of the user

Run: see README.md (``python examples/flask/app.py`` with TESSERA_URL and the API keys set).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

import flask

try:
    import tessera_client  # noqa: F401
except ImportError:  # run from the repository without installing the kit
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python", "src"))

from tessera_client import TesseraClient, TesseraError, Tokens, device
from tessera_client.csrf import (CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE, cleared, csrf_cookie,
                                 csrf_ok, new_csrf_token, refresh_cookie)
from tessera_client.flask import TesseraFlask, current_session

#: How long the refresh cookie lives in the browser; Tessera's own timeouts end it sooner.
COOKIE_MAX_AGE = 30 * 24 * 3600
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}


def hash_password(password: str, salt: Optional[bytes] = None) -> Tuple[bytes, bytes]:
    """``(salt, scrypt hash)`` of a password."""
    salt = salt or secrets.token_bytes(16)
    return salt, hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)


class Users:
    """The demo's user store: in memory, one user, password hashed with scrypt."""

    def __init__(self, name: str, password: str) -> None:
        self._users = {name: hash_password(password)}
        self._decoy = hash_password(secrets.token_urlsafe())

    def check(self, name: str, password: str) -> bool:
        """Whether the password is right; as slow for unknown users as for known ones."""
        salt, expected = self._users.get(name, self._decoy)
        _, actual = hash_password(password, salt)
        return hmac.compare_digest(actual, expected) and name in self._users


class SessionRateLimit:
    """At most ``limit`` requests per ``window`` seconds per session (in memory, per process)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._window, self._clock = limit, window, clock
        self._hits: Dict[str, Tuple[float, int]] = {}
        self._lock = threading.Lock()

    def retry_after(self, session_id: str) -> int:
        """0 if the request may go ahead, else the seconds until it may."""
        now = self._clock()
        with self._lock:
            start, count = self._hits.get(session_id, (now, 0))
            if now - start >= self._window:
                start, count = now, 0
            if count >= self._limit:
                return max(1, int(start + self._window - now + 0.999))
            self._hits[session_id] = (start, count + 1)
            return 0


def problem(status: int, title: str, headers: Optional[Dict[str, str]] = None) -> flask.Response:
    body = {"type": "about:blank", "title": title, "status": status}
    resp = flask.jsonify(body)
    resp.status_code = status
    resp.content_type = "application/problem+json"
    resp.headers.update(headers or {})
    return resp


def token_response(tokens: Tokens) -> flask.Response:
    """The access token for the page (JSON), the refresh token in its cookie, and a fresh CSRF
    token in both its cookie and the JSON (the page sends it back in X-CSRF-Token)."""
    csrf = new_csrf_token()
    resp = flask.jsonify(access_token=tokens.access_token, expires_in=tokens.expires_in,
                         csrf_token=csrf)
    resp.headers["Cache-Control"] = "no-store"
    resp.set_cookie(**refresh_cookie(tokens.refresh_token, COOKIE_MAX_AGE))
    resp.set_cookie(**csrf_cookie(csrf, COOKIE_MAX_AGE))
    return resp


def clear_session_cookies(resp: flask.Response) -> flask.Response:
    resp.set_cookie(**cleared(REFRESH_COOKIE))
    resp.set_cookie(**cleared(CSRF_COOKIE))
    return resp


def create_app(config: Optional[Dict[str, Any]] = None) -> flask.Flask:
    """The app. Config (or environment): TESSERA_URL, TESSERA_API_KEY (creates and revokes
    sessions), TESSERA_VERIFY_API_KEY (verifies), DEMO_USER, DEMO_PASSWORD, RATE_LIMIT."""
    app = flask.Flask(__name__)
    app.config.update({k: os.environ[k] for k in ("TESSERA_URL", "TESSERA_API_KEY",
                       "TESSERA_VERIFY_API_KEY", "DEMO_USER", "DEMO_PASSWORD") if k in os.environ})
    app.config.update(config or {})
    for required in ("TESSERA_URL", "TESSERA_API_KEY", "TESSERA_VERIFY_API_KEY", "DEMO_PASSWORD"):
        if not app.config.get(required):
            raise SystemExit(f"set {required} (see examples/flask/README.md)")
    tessera = TesseraFlask(app, base_url=app.config["TESSERA_URL"],
                           api_key=app.config["TESSERA_VERIFY_API_KEY"])
    backend = TesseraClient(app.config["TESSERA_URL"], app.config["TESSERA_API_KEY"])
    users = Users(app.config.get("DEMO_USER", "demo"), app.config["DEMO_PASSWORD"])
    limit = SessionRateLimit(int(app.config.get("RATE_LIMIT", 60)), 60.0)
    app.extensions["demo"] = {"tessera": tessera, "limit": limit}

    @app.post("/login")
    def login() -> Any:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("user"), str) \
                or not isinstance(body.get("password"), str):
            return problem(400, 'Send JSON {"user": ..., "password": ...}')
        if not users.check(body["user"], body["password"]):
            return problem(401, "Wrong user name or password")
        tokens = backend.create_session(body["user"], claims={"name": body["user"]}, device=device(
            user_agent=flask.request.user_agent.string, ip=flask.request.remote_addr))
        return token_response(tokens)

    @app.post("/refresh")
    def refresh() -> Any:
        if not csrf_ok(flask.request.cookies.get(CSRF_COOKIE), flask.request.headers.get(CSRF_HEADER)):
            return problem(403, "CSRF check failed: send the csrf cookie's value in X-CSRF-Token")
        cookie = flask.request.cookies.get(REFRESH_COOKIE)
        if not cookie:
            return problem(401, "Not signed in")
        try:
            tokens = backend.refresh(cookie)  # never retried: a replayed token ends the session
        except TesseraError as err:
            if err.status in (400, 401):
                return clear_session_cookies(problem(401, "Signed out: sign in again"))
            return problem(503, "Sessions are unavailable", {"Retry-After": "1"})
        return token_response(tokens)

    @app.get("/api/profile")
    @tessera.require_session
    def profile() -> Any:
        session = current_session()
        wait = limit.retry_after(session.session_id)
        if wait:
            return problem(429, "Too many requests for this session", {"Retry-After": str(wait)})
        return {"user": session.user_id, "session_id": session.session_id}

    @app.get("/api/sessions")
    @tessera.require_session
    def sessions() -> Any:
        session = current_session()
        return {"sessions": [{"session_id": s.session_id, "device": dict(s.device),
                              "current": s.session_id == session.session_id}
                             for s in backend.list_user_sessions(session.user_id)]}

    @app.post("/logout")
    @tessera.require_session
    def logout() -> Any:
        backend.revoke_session(current_session().session_id)
        return clear_session_cookies(flask.Response(status=204))

    @app.post("/logout-everywhere")
    @tessera.require_session
    def logout_everywhere() -> Any:
        backend.revoke_user_sessions(current_session().user_id)
        return clear_session_cookies(flask.Response(status=204))

    @app.errorhandler(TesseraError)
    def tessera_down(err: TesseraError) -> Any:
        app.logger.warning("Tessera call failed: %s", err)
        return problem(503, "Sessions are unavailable", {"Retry-After": "1"})

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))

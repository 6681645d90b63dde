"""The backend calls: create, refresh, read and revoke sessions, with an API key."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from . import _http
from .errors import TesseraError
from .models import SessionInfo, Tokens


class TesseraClient:
    """A typed client of Tessera's backend API (``/v1/sessions``, ``/v1/users``).

    Each method is one request, never retried: a refresh token is spent by its first use, and
    presenting it again after the grace window revokes the whole session (theft detection).

    Args:
        base_url: the Tessera server, e.g. ``http://127.0.0.1:8080``.
        api_key: a key with the ``sessions`` scope (``tessera api-key create --name shop
            --scope sessions``): it manages sessions and nothing else, never the admin key.

    Every method raises :class:`TesseraError` (with ``status`` and the ``problem`` document)
    when the server refuses or cannot be reached.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TesseraClient({self._base!r})"  # never the key

    def create_session(self, user_id: str, *, claims: Optional[Mapping[str, Any]] = None,
                       data: Any = None, device: Optional[Mapping[str, str]] = None) -> Tokens:
        """Starts a session for a user the app has signed in; ``claims`` go into every token."""
        body: Dict[str, Any] = {"user_id": user_id, "claims": dict(claims or {})}
        if data is not None:
            body["data"] = data
        if device:
            body["device"] = dict(device)
        return Tokens.from_json(self._call("POST", "/v1/sessions", body))

    def refresh(self, refresh_token: str) -> Tokens:
        """Rotates a refresh token: new tokens, and the old refresh token is spent.

        Raises:
            TesseraError: 401 ``invalid-grant`` for a token that is unknown, expired, revoked or
                replayed (do not retry: sign the user in again).
        """
        return Tokens.from_json(self._call("POST", "/v1/sessions/refresh",
                                           {"refresh_token": refresh_token}))

    def get_session(self, session_id: str) -> SessionInfo:
        """One session. Raises :class:`TesseraError` 404 if unknown, 410 once revoked."""
        return SessionInfo.from_json(self._call("GET", f"/v1/sessions/{_http.quote(session_id)}"))

    def update_session(self, session_id: str, version: int, *,
                       claims: Optional[Mapping[str, Any]] = None, data: Any = None) -> int:
        """Replaces a session's claims and/or data if it is still at ``version``; the new version.

        Raises:
            TesseraError: 412 when the session changed since ``version`` was read.
        """
        body: Dict[str, Any] = {}
        if claims is not None:
            body["claims"] = dict(claims)
        if data is not None:
            body["data"] = data
        doc = self._call("PATCH", f"/v1/sessions/{_http.quote(session_id)}", body,
                         headers={"If-Match": f'"{int(version)}"'})
        return int(doc["version"])

    def revoke_session(self, session_id: str) -> None:
        """Ends one session (logout); its tokens stop working on every verifier at once."""
        self._call("DELETE", f"/v1/sessions/{_http.quote(session_id)}")

    def revoke_user_sessions(self, user_id: str, *,
                             except_session: Optional[str] = None) -> List[str]:
        """Ends every session of a user (logout everywhere), or all but ``except_session``.

        Returns the ids of the sessions revoked.
        """
        path = f"/v1/users/{_http.quote(user_id)}/sessions"
        if except_session is not None:
            path += f"?except={_http.quote(except_session)}"
        doc = self._call("DELETE", path)
        return [str(sid) for sid in (doc or {}).get("revoked", [])]

    def list_user_sessions(self, user_id: str) -> List[SessionInfo]:
        """A user's live sessions (their devices)."""
        doc = self._call("GET", f"/v1/users/{_http.quote(user_id)}/sessions")
        return [SessionInfo.from_json(s) for s in (doc or {}).get("sessions", [])]

    def _call(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None,
              headers: Optional[Mapping[str, str]] = None) -> Any:
        _status, doc, _headers = _http.request(method, self._base + path, api_key=self._api_key,
                                               body=body, timeout=self._timeout, headers=headers)
        return doc


__all__ = ["TesseraClient", "TesseraError"]

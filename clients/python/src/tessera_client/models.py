"""What the backend calls answer, typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from .errors import TesseraError


@dataclass(frozen=True)
class Tokens:
    """Freshly issued tokens. ``repr`` shows neither token: they are secrets."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    session_id: str
    expires_in: int
    token_type: str = "Bearer"

    @classmethod
    def from_json(cls, doc: Any) -> "Tokens":
        """Parses a token response.

        Raises:
            TesseraError: the document is not a token response.
        """
        try:
            return cls(access_token=str(doc["access_token"]),
                       refresh_token=str(doc["refresh_token"]),
                       session_id=str(doc["session_id"]), expires_in=int(doc["expires_in"]),
                       token_type=str(doc.get("token_type", "Bearer")))
        except (KeyError, TypeError, ValueError):
            raise TesseraError(0, message="Tessera answered an unexpected token response") from None


@dataclass(frozen=True)
class SessionInfo:
    """One session as the API shows it (times are Unix seconds)."""

    session_id: str
    user_id: str
    claims: Mapping[str, Any]
    data: Any
    device: Mapping[str, Any]
    created_at: int
    last_seen_at: int
    idle_expires_at: int
    absolute_expires_at: int
    version: int
    revoked_at: Optional[int] = None
    revoke_reason: Optional[str] = None

    @classmethod
    def from_json(cls, doc: Any) -> "SessionInfo":
        """Parses a session view.

        Raises:
            TesseraError: the document is not a session.
        """
        try:
            return cls(session_id=str(doc["session_id"]), user_id=str(doc["user_id"]),
                       claims=dict(doc.get("claims") or {}), data=doc.get("data"),
                       device=dict(doc.get("device") or {}), created_at=int(doc["created_at"]),
                       last_seen_at=int(doc["last_seen_at"]),
                       idle_expires_at=int(doc["idle_expires_at"]),
                       absolute_expires_at=int(doc["absolute_expires_at"]),
                       version=int(doc["version"]), revoked_at=doc.get("revoked_at"),
                       revoke_reason=doc.get("revoke_reason"))
        except (KeyError, TypeError, ValueError):
            raise TesseraError(0, message="Tessera answered an unexpected session") from None


def device(user_agent: Optional[str] = None, ip: Optional[str] = None,
           label: Optional[str] = None) -> Dict[str, str]:
    """A ``device`` object for :meth:`TesseraClient.create_session`, without empty fields."""
    fields = {"user_agent": user_agent, "ip": ip, "label": label}
    return {k: v for k, v in fields.items() if v}

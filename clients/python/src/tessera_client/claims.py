"""The verified claims of an access token, as the app sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping

#: Registered claims every Tessera access token carries.
REQUIRED = ("iss", "aud", "sub", "sid", "jti", "iat", "exp")


@dataclass(frozen=True)
class AccessClaims:
    """Who the request is from: the claims of a verified, unrevoked access token.

    ``user_id`` is ``sub``, ``session_id`` is ``sid``, ``token_id`` is ``jti``; ``claims`` holds
    every claim as signed, application claims (such as ``role``) included.
    """

    user_id: str
    session_id: str
    token_id: str
    expires_at: int
    claims: Mapping[str, Any] = field(repr=False)

    def __getitem__(self, name: str) -> Any:
        """A claim by name, e.g. ``session["role"]``."""
        return self.claims[name]

    def get(self, name: str, default: Any = None) -> Any:
        """A claim by name, or ``default``."""
        return self.claims.get(name, default)

    @classmethod
    def from_payload(cls, payload: Dict[str, Any]) -> "AccessClaims":
        """Builds the claims from a decoded, already verified payload."""
        return cls(
            user_id=str(payload["sub"]),
            session_id=str(payload["sid"]),
            token_id=str(payload["jti"]),
            expires_at=int(payload["exp"]),
            claims=dict(payload),
        )

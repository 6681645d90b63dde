"""The kit's errors: each says what went wrong and what to do about it."""

from __future__ import annotations

from typing import Any, Mapping, Optional


class TesseraError(Exception):
    """The Tessera server refused a backend call, or could not be reached.

    ``status`` is the HTTP status (``0`` when the server could not be reached) and ``problem``
    the RFC 9457 problem document it answered (empty when there was none). Never retry a
    refresh on this error: a refresh token that was spent and presented again revokes the
    whole session.
    """

    def __init__(self, status: int, problem: Optional[Mapping[str, Any]] = None,
                 message: Optional[str] = None, retry_after: Optional[int] = None) -> None:
        self.status = status
        self.retry_after = retry_after
        """Seconds to wait before trying again, when the server said so (429, 503)."""
        self.problem: Mapping[str, Any] = dict(problem or {})
        text = message or str(self.problem.get("detail") or self.problem.get("title") or "")
        super().__init__(f"Tessera answered {status}: {text}" if status else text)

    @property
    def type(self) -> str:
        """The problem ``type`` URI, such as ``urn:tessera:problem:invalid-grant``."""
        return str(self.problem.get("type", "about:blank"))


class TokenRejected(Exception):
    """An access token was missing or is not valid now.

    ``reason`` is coarse and safe to log: ``missing``, ``malformed``, ``unknown_key``,
    ``invalid``, ``expired`` or ``revoked``. Clients only ever see a 401.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"access token rejected: {reason}" + (f" ({detail})" if detail else ""))


class Unavailable(Exception):
    """Tokens cannot be checked right now (an outage, not a bad token): answer 503.

    ``retry_after`` is a hint, in seconds, for the ``Retry-After`` header.
    """

    retry_after: int = 1


class KeysUnavailable(Unavailable):
    """The JWKS could not be fetched and no copy of it is cached yet."""


class FeedStale(Unavailable):
    """The revocation feed has not caught up recently enough to vouch for any token.

    Verification fails closed: the request gets ``503`` with ``Retry-After``, as an outage,
    not as a bad token. It clears by itself once the feed catches up again.
    """

    def __init__(self, stale_for: Optional[float]) -> None:
        self.stale_for = stale_for
        when = "never synced" if stale_for is None else f"last synced {stale_for:.1f}s ago"
        super().__init__(f"revocation feed is stale ({when}); is the Tessera server reachable?")

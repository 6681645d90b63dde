"""The answers a protected route gives instead of running: RFC 9457 problem documents.

Framework-neutral, so Flask and FastAPI answer exactly alike: 401 with
``WWW-Authenticate: Bearer`` for a missing or bad token (RFC 6750 §3), 503 with
``Retry-After`` while tokens cannot be checked. The client learns nothing beyond that, except
that an expired token is worth refreshing.
"""

from __future__ import annotations

import re
from typing import Any, Dict, NamedTuple, Optional

from .errors import TokenRejected, Unavailable

CONTENT_TYPE = "application/problem+json"
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *$")


class Answer(NamedTuple):
    """A status, headers and a problem document to send as ``application/problem+json``."""

    status: int
    headers: Dict[str, str]
    body: Dict[str, Any]


def bearer_token(authorization: Optional[str]) -> str:
    """The token of an ``Authorization: Bearer`` header value; ``""`` when there is none."""
    match = _BEARER.match(authorization or "")
    return match.group(1) if match else ""


def for_rejection(err: TokenRejected) -> Answer:
    """401: RFC 6750 says no error code when the request carried no token at all."""
    if err.reason == "missing":
        challenge = 'Bearer realm="tessera"'
    elif err.reason == "expired":
        challenge = 'Bearer realm="tessera", error="invalid_token", error_description="expired"'
    else:
        challenge = 'Bearer realm="tessera", error="invalid_token"'
    body = {"type": "urn:tessera:problem:unauthorized", "title": "Sign-in required",
            "status": 401}
    if err.reason != "missing":
        body.update(type="urn:tessera:problem:invalid-token",
                    title="The access token is not valid")
    if err.reason == "expired":
        body["detail"] = "The access token expired; refresh it."
    return Answer(401, {"WWW-Authenticate": challenge, "Cache-Control": "no-store"}, body)


def for_outage(err: Unavailable) -> Answer:
    """503 with ``Retry-After``: sessions cannot be checked right now."""
    body = {"type": "urn:tessera:problem:unavailable",
            "title": "Sessions cannot be checked right now", "status": 503}
    return Answer(503, {"Retry-After": str(max(1, err.retry_after)), "Cache-Control": "no-store"},
                  body)

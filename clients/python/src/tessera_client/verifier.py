"""Checks access tokens locally: signature from the cached JWKS, claims, then revocation.

No request to Tessera per token: the keys are cached (:mod:`.jwks`) and logouts arrive through
the revocation feed (:mod:`.feed`).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional

import jwt

from . import _http
from .claims import REQUIRED, AccessClaims
from .errors import TokenRejected
from .feed import DEFAULT_STALENESS, FeedFollower, RevocationFeed
from .jwks import KeySet

#: Longest token accepted, in bytes, before any parsing.
MAX_TOKEN_BYTES = 8192
#: Header parameters that would let a token pick its own key or rules: refused.
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")


class Verifier:
    """Verifies Tessera access tokens for one app.

    Args:
        base_url: the Tessera server (JWKS and feed are read from it).
        api_key: a ``verify`` API key, for the revocation feed.
        issuer: the ``iss`` to require; the server's ``issuer`` setting, by default its
            ``public_origin`` or ``http://<listen>`` (so, by default, ``base_url``).
        audience: the ``aud`` to require (the server's default is ``tessera``).
        leeway: clock skew allowed on ``exp``, ``nbf`` and ``iat``, in seconds (at most 60).
        feed_staleness: see :class:`RevocationFeed` (default 5 s, as the server's).
        clock: seconds since the epoch; injected so tests need no sleep.
    """

    def __init__(self, base_url: str, api_key: str, *, issuer: Optional[str] = None,
                 audience: str = "tessera", leeway: float = 30.0,
                 feed_staleness: float = DEFAULT_STALENESS, poll_interval: float = 1.0,
                 jwks_cooldown: float = 10.0, jwks_max_age: float = 30.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not 0 <= leeway <= 60:
            raise ValueError("leeway must be between 0 and 60 seconds")
        self.issuer = issuer if issuer is not None else base_url.rstrip("/")
        self.audience = audience
        self._leeway = leeway
        self._clock = clock
        self.keys = KeySet(_http.join(base_url, "/.well-known/jwks.json"),
                           cooldown=jwks_cooldown, max_age=jwks_max_age, timeout=timeout,
                           clock=clock)
        self.feed = RevocationFeed(base_url, api_key, staleness=feed_staleness,
                                   timeout=timeout, clock=clock)
        self._follower = FeedFollower(self.feed, poll_interval)

    def start(self) -> None:
        """Fetches the keys, syncs the feed once, and starts following it in a thread.

        Raises:
            TesseraError: the server could not be reached or refused the API key.
        """
        self.keys.refresh()
        self._follower.start()

    def stop(self) -> None:
        """Stops following the feed (verification then fails closed once it goes stale)."""
        self._follower.stop()

    def verify(self, token: str) -> AccessClaims:
        """The claims of ``token`` if it is genuine, current and not revoked.

        Raises:
            TokenRejected: missing, malformed, unknown key, bad signature, wrong issuer or
                audience, expired, or revoked.
            Unavailable: the keys or the revocation feed cannot be vouched for (answer 503).
        """
        payload = self._decode(token)
        claims = AccessClaims.from_payload(payload)
        if self.feed.check(claims.session_id, claims.token_id):
            raise TokenRejected("revoked", "the session or token was revoked")
        return claims

    def _decode(self, token: str) -> Dict[str, Any]:
        if not token:
            raise TokenRejected("missing")
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise TokenRejected("malformed", "not a compact JWS of sensible size")
        header = _header(token)
        key = self.keys.key_for(header["kid"])
        if header.get("alg") != key.algorithm_name:
            raise TokenRejected("invalid", "alg differs from the key's algorithm")
        try:
            payload: Dict[str, Any] = jwt.decode(
                token, key=key.key, algorithms=[key.algorithm_name], audience=self.audience,
                issuer=self.issuer,
                options={"require": list(REQUIRED), "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False},
            )
        except jwt.InvalidTokenError as err:
            raise TokenRejected("invalid", type(err).__name__) from None
        self._check_times(payload)
        return payload

    def _check_times(self, payload: Dict[str, Any]) -> None:
        """``exp``, ``nbf`` and ``iat`` against the injected clock, with the leeway."""
        now = self._clock()
        times = {name: payload.get(name) for name in ("exp", "nbf", "iat")}
        for name, value in times.items():
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise TokenRejected("invalid", f"{name} is not a number")
        if now >= times["exp"] + self._leeway:  # type: ignore[operator]
            raise TokenRejected("expired")
        for name in ("nbf", "iat"):
            if times[name] is not None and times[name] > now + self._leeway:  # type: ignore[operator]
                raise TokenRejected("invalid", f"{name} is in the future")
        for name in ("sub", "sid", "jti"):
            if not isinstance(payload.get(name), str) or not payload[name]:
                raise TokenRejected("invalid", f"{name} is not a string")


def _header(token: str) -> Dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenRejected("malformed", "unreadable header") from None
    if header.get("typ") != "at+jwt":
        raise TokenRejected("invalid", "typ is not at+jwt")
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise TokenRejected("invalid", "header names its own key or critical extensions")
    if not isinstance(header.get("kid"), str):
        raise TokenRejected("invalid", "no kid")
    return header

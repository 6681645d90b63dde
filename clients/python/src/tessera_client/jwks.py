"""The server's public signing keys, fetched from its JWKS and cached.

The keys are fetched once and kept; a token naming a key the cache does not hold (a key that
took over after a rotation) makes the cache refetch, at most once per ``cooldown``, so a flood
of forged ``kid`` values costs the server nothing. Each key keeps the algorithm the JWKS gives
it: a token is only ever checked with its key's own algorithm, never the one its header names.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional

import jwt

from . import _http
from .errors import KeysUnavailable, TesseraError, TokenRejected

#: Asymmetric algorithms a Tessera server signs with; a shared HS256 secret is never published.
ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
#: The algorithm of a key published without ``alg``, where its type leaves no doubt.
_IMPLIED = {("OKP", "Ed25519"): "EdDSA", ("EC", "P-256"): "ES256"}


class KeySet:
    """The JWKS at ``jwks_url``, fetched lazily and cached.

    Args:
        jwks_url: usually ``<tessera>/.well-known/jwks.json``.
        cooldown: least time, in seconds, between two fetches, whatever caused them (an
            unknown ``kid``, a cache past ``max_age``): a server that cannot answer is asked
            again only after it, while the keys held keep verifying.
        max_age: a cache older than this is refetched on next use (the server says 30 s: a
            withdrawn key stops within it).
        clock: seconds since the epoch; injected so tests need no sleep.
    """

    def __init__(self, jwks_url: str, *, cooldown: float = 10.0, max_age: float = 30.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._url = jwks_url
        self._cooldown = cooldown
        self._max_age = max_age
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: Optional[Dict[str, jwt.PyJWK]] = None
        self._fetched_at = 0.0
        self._tried_at: Optional[float] = None
        self.fetches = 0
        """How many times the JWKS was fetched (for metrics and tests)."""

    def key_for(self, kid: str) -> jwt.PyJWK:
        """The key named ``kid``, refetching the JWKS if it is unknown and the cooldown allows.

        Raises:
            TokenRejected: ``unknown_key`` when no published key has that ``kid``.
            KeysUnavailable: when the JWKS was never fetched and cannot be now.
        """
        with self._lock:
            now = self._clock()
            may_fetch = self._tried_at is None or now - self._tried_at >= self._cooldown
            if may_fetch and (self._keys is None or now - self._fetched_at > self._max_age):
                self._try_fetch(now)
                may_fetch = False
            if self._keys is not None and kid in self._keys:
                return self._keys[kid]
            if may_fetch:
                self._try_fetch(now)
            if self._keys is None:
                raise KeysUnavailable(f"the JWKS at {self._url} could not be fetched")
            if kid in self._keys:
                return self._keys[kid]
        raise TokenRejected("unknown_key", "no published key has this kid")

    def refresh(self) -> None:
        """Fetches the JWKS now.

        Raises:
            TesseraError: the server could not be reached or answered an error.
        """
        with self._lock:
            self._tried_at = self._clock()
            self._fetch()

    def _try_fetch(self, now: float) -> None:
        self._tried_at = now
        try:
            self._fetch()
        except TesseraError:
            pass  # keep the keys we have; KeysUnavailable if there are none

    def _fetch(self) -> None:
        self.fetches += 1
        _status, doc, _headers = _http.request("GET", self._url, timeout=self._timeout)
        self._keys = parse(doc)
        self._fetched_at = self._clock()


def parse(doc: Any) -> Dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by ``kid``; anything else is skipped."""
    keys = doc.get("keys") if isinstance(doc, dict) else None
    out: Dict[str, jwt.PyJWK] = {}
    for jwk in keys if isinstance(keys, list) else []:
        key = _key(jwk)
        if key is not None:
            out[jwk["kid"]] = key
    return out


def _key(jwk: Any) -> Optional[jwt.PyJWK]:
    if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    alg = jwk.get("alg") or _IMPLIED.get((jwk.get("kty"), jwk.get("crv")))
    if alg not in ALGORITHMS:
        return None
    try:
        return jwt.PyJWK(dict(jwk), algorithm=alg)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        return None

"""Tessera for Python apps: verify access tokens locally, follow logouts, call the backend API.

* :class:`Verifier` checks access tokens against the server's cached JWKS and the revocation
  feed it follows in memory, failing closed when the feed is stale.
* :class:`TesseraClient` makes the backend calls (create, refresh, read, revoke sessions).
* :mod:`tessera_client.flask` and :mod:`tessera_client.fastapi` plug the verifier into apps.
* :mod:`tessera_client.csrf` keeps refresh tokens in ``__Host-`` cookies behind a CSRF check.
"""

from .claims import AccessClaims
from .client import TesseraClient
from .errors import FeedStale, KeysUnavailable, TesseraError, TokenRejected, Unavailable
from .feed import FeedFollower, RevocationFeed
from .jwks import KeySet
from .models import SessionInfo, Tokens, device
from .verifier import Verifier

__all__ = [
    "AccessClaims",
    "FeedFollower",
    "FeedStale",
    "KeySet",
    "KeysUnavailable",
    "RevocationFeed",
    "SessionInfo",
    "TesseraClient",
    "TesseraError",
    "TokenRejected",
    "Tokens",
    "Unavailable",
    "Verifier",
    "device",
]
__version__ = "0.1.0"

"""The refresh-token cookie and the CSRF double submit, for apps that keep sessions in browsers.

The refresh token lives in an ``HttpOnly`` ``__Host-`` cookie (``Secure``, ``Path=/``, no
``Domain``): scripts cannot read it and no other host can set or shadow it. The endpoint that
spends it is guarded by a double submit: a random token in a second ``__Host-`` cookie that
page scripts may read, echoed in the ``X-CSRF-Token`` header and compared in constant time. A
cross-site page can make the browser send both cookies but cannot read them to forge the header.

The cookie helpers return keyword arguments that both Flask's and Starlette's
``response.set_cookie(**kwargs)`` accept.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, Dict, Optional

REFRESH_COOKIE = "__Host-tessera-refresh"
CSRF_COOKIE = "__Host-tessera-csrf"
CSRF_HEADER = "X-CSRF-Token"


def new_csrf_token() -> str:
    """A fresh CSRF token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def csrf_ok(cookie_value: Optional[str], header_value: Optional[str]) -> bool:
    """Whether the header echoes the cookie: both present, equal, compared in constant time."""
    if not cookie_value or not header_value:
        return False
    return hmac.compare_digest(cookie_value.encode(), header_value.encode())


def refresh_cookie(refresh_token: str, max_age: int, *, same_site: str = "Strict") -> Dict[str, Any]:
    """``set_cookie`` arguments for the refresh token: ``HttpOnly``, ``Secure``, ``__Host-``."""
    return _cookie(REFRESH_COOKIE, refresh_token, max_age, http_only=True, same_site=same_site)


def csrf_cookie(token: str, max_age: int, *, same_site: str = "Strict") -> Dict[str, Any]:
    """``set_cookie`` arguments for the CSRF token: readable by the page's own scripts."""
    return _cookie(CSRF_COOKIE, token, max_age, http_only=False, same_site=same_site)


def cleared(name: str) -> Dict[str, Any]:
    """``set_cookie`` arguments that delete cookie ``name`` (same attributes, expired)."""
    return _cookie(name, "", 0, http_only=name == REFRESH_COOKIE, same_site="Strict")


def _cookie(name: str, value: str, max_age: int, *, http_only: bool, same_site: str) -> Dict[str, Any]:
    if same_site not in ("Strict", "Lax"):
        raise ValueError("same_site must be 'Strict' or 'Lax'")
    return {"key": name, "value": value, "max_age": max_age, "path": "/", "secure": True,
            "httponly": http_only, "samesite": same_site}

"""JSON over HTTP with the standard library: one request, no retries, errors as TesseraError."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Optional, Tuple

from .errors import TesseraError

#: Largest response body read, so a misbehaving server cannot exhaust memory.
MAX_BODY = 4 * 1024 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turns every redirect into an error: an API key is never sent anywhere else."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_NoRedirect())


def join(base_url: str, path: str) -> str:
    """``base_url`` (with or without a trailing slash) joined with an absolute ``path``."""
    return base_url.rstrip("/") + path


def quote(segment: str) -> str:
    """One path segment, percent-encoded (a user id may hold ``/`` or ``?``)."""
    return urllib.parse.quote(segment, safe="")


def request(method: str, url: str, *, api_key: Optional[str] = None,
            body: Optional[Mapping[str, Any]] = None, timeout: float = 5.0,
            headers: Optional[Mapping[str, str]] = None) -> Tuple[int, Any, Mapping[str, str]]:
    """Sends one request and returns ``(status, decoded JSON or None, headers)``.

    Raises:
        TesseraError: on a 4xx/5xx answer (with its problem document) or when the server
            cannot be reached (status 0). Redirects are not followed: an API key is never
            sent anywhere else.
    """
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json, application/problem+json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with _NO_REDIRECTS.open(req, timeout=timeout) as resp:
            return resp.status, _decode(resp.read(MAX_BODY)), dict(resp.headers)
    except urllib.error.HTTPError as err:
        raise _problem(err) from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
        raise TesseraError(0, message=f"Tessera at {url} could not be reached: {err}") from None


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise TesseraError(0, message="Tessera answered something that is not JSON") from None


def _problem(err: urllib.error.HTTPError) -> TesseraError:
    try:
        doc = json.loads(err.read(MAX_BODY) or b"{}")
    except (ValueError, OSError):
        doc = {}
    retry = (err.headers or {}).get("Retry-After", "")
    seconds = retry.isascii() and retry.isdigit()  # '²'.isdigit() holds, int('²') raises
    return TesseraError(err.code, doc if isinstance(doc, dict) else {},
                        retry_after=int(retry) if seconds else None)

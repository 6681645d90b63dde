"""The cookie and CSRF helpers, and the cookies Flask and Starlette make from them."""

from __future__ import annotations

import flask
import pytest
from starlette.responses import Response

from tessera_client import csrf


def test_csrf_tokens_are_random_and_compared_exactly():
    a, b = csrf.new_csrf_token(), csrf.new_csrf_token()
    assert a != b and len(a) >= 43
    assert csrf.csrf_ok(a, a)
    for cookie, header in ((a, b), (a, a[:-1]), (a, ""), ("", ""), (None, a), (a, None),
                           (a, a + "x"), (a, "é")):
        assert not csrf.csrf_ok(cookie, header)


def check(header: str, http_only: bool):
    parts = [p.strip().lower() for p in header.split(";")]
    assert parts[0].startswith("__host-tessera-")
    assert "secure" in parts and "path=/" in parts
    assert ("httponly" in parts) is http_only
    assert not any(p.startswith("domain") for p in parts)
    assert "samesite=strict" in parts


@pytest.mark.parametrize("spec,http_only", [
    (csrf.refresh_cookie("tsr_secret", 3600), True),
    (csrf.csrf_cookie("token", 3600), False),
    (csrf.cleared(csrf.REFRESH_COOKIE), True),
])
def test_cookies_as_flask_and_starlette_set_them(spec, http_only):
    flask_response = flask.Response()
    flask_response.set_cookie(**spec)
    check(flask_response.headers["Set-Cookie"], http_only)
    starlette_response = Response()
    starlette_response.set_cookie(**spec)
    check(starlette_response.headers["set-cookie"], http_only)


def test_a_cookie_that_cross_site_requests_could_carry_is_refused():
    with pytest.raises(ValueError):
        csrf.refresh_cookie("tsr_secret", 60, same_site="None")

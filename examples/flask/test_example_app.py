"""End to end: the example app, through Flask's test client over https, on a real Tessera."""

from __future__ import annotations

import functools

import pytest

from app import create_app
from tessera_server import TesseraServer

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def tessera():
    srv = TesseraServer().start()
    srv.keys = (srv.backend_key(), srv.create_key("example-verify", "verify"))
    yield srv
    srv.close()


@pytest.fixture
def app(tessera):
    app = create_app({"TESSERA_URL": tessera.url, "TESSERA_API_KEY": tessera.keys[0],
                      "TESSERA_VERIFY_API_KEY": tessera.keys[1],
                      "DEMO_USER": "demo", "DEMO_PASSWORD": PASSWORD, "RATE_LIMIT": 3})
    yield app
    app.extensions["tessera"].close()


def browser(app):
    """A test client on https, so Secure __Host- cookies are kept and sent as a browser would."""
    http = app.test_client()
    plain_open = http.open
    http.open = functools.partial(plain_open, base_url="https://localhost")  # type: ignore[method-assign]
    return http


def sign_in(http) -> dict:
    resp = http.post("/login", json={"user": "demo", "password": PASSWORD})
    assert resp.status_code == 200, resp.data
    return resp.json


def sync(app):
    app.extensions["tessera"].verifier.feed.sync()


def test_sign_in_checks_the_password(app):
    http = browser(app)
    for body in ({"user": "demo", "password": "wrong"}, {"user": "nobody", "password": PASSWORD}):
        resp = http.post("/login", json=body)
        assert resp.status_code == 401 and resp.content_type == "application/problem+json"
    assert http.post("/login", data="nope").status_code == 400
    assert http.get_cookie("__Host-tessera-refresh") is None


def test_the_classic_flow(app):
    http = browser(app)
    login = sign_in(http)
    refresh_cookie = http.get_cookie("__Host-tessera-refresh")
    assert refresh_cookie.http_only and refresh_cookie.secure and refresh_cookie.path == "/"
    assert refresh_cookie.domain in ("localhost", "") and refresh_cookie.value.startswith("tsr_")
    assert http.get_cookie("__Host-tessera-csrf").value == login["csrf_token"]
    me = http.get("/api/profile", headers={"Authorization": f"Bearer {login['access_token']}"})
    assert me.status_code == 200 and me.json["user"] == "demo"

    assert http.post("/refresh").status_code == 403  # no CSRF header
    assert http.post("/refresh", headers={"X-CSRF-Token": "guess"}).status_code == 403
    fresh = http.post("/refresh", headers={"X-CSRF-Token": login["csrf_token"]})
    assert fresh.status_code == 200 and fresh.json["access_token"] != login["access_token"]
    assert http.get_cookie("__Host-tessera-refresh").value != refresh_cookie.value
    bearer = {"Authorization": f"Bearer {fresh.json['access_token']}"}
    assert http.get("/api/sessions", headers=bearer).json["sessions"][0]["current"] is True

    assert http.post("/logout", headers=bearer).status_code == 204
    assert http.get_cookie("__Host-tessera-refresh") is None
    sync(app)
    assert http.get("/api/profile", headers=bearer).status_code == 401
    # The old refresh cookie, replayed by someone who kept it, refreshes nothing.
    http.set_cookie("__Host-tessera-refresh", refresh_cookie.value, domain="localhost", secure=True)
    http.set_cookie("__Host-tessera-csrf", "x", domain="localhost", secure=True)
    assert http.post("/refresh", headers={"X-CSRF-Token": "x"}).status_code == 401


def test_logout_everywhere_ends_the_other_devices(app):
    laptop, phone = browser(app), browser(app)
    on_laptop, on_phone = sign_in(laptop), sign_in(phone)
    bearer = {"Authorization": f"Bearer {on_laptop['access_token']}"}
    assert laptop.post("/logout-everywhere", headers=bearer).status_code == 204
    sync(app)
    phone_bearer = {"Authorization": f"Bearer {on_phone['access_token']}"}
    assert phone.get("/api/profile", headers=phone_bearer).status_code == 401
    assert phone.post("/refresh", headers={"X-CSRF-Token": on_phone["csrf_token"]}).status_code == 401


def test_the_rate_limit_is_per_session(app):
    first, second = sign_in(browser(app)), sign_in(browser(app))
    http = browser(app)
    one = {"Authorization": f"Bearer {first['access_token']}"}
    assert [http.get("/api/profile", headers=one).status_code for _ in range(4)] == [200] * 3 + [429]
    limited = http.get("/api/profile", headers=one)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    other = {"Authorization": f"Bearer {second['access_token']}"}
    assert http.get("/api/profile", headers=other).status_code == 200


def test_the_app_refuses_to_start_without_its_settings(tessera):
    with pytest.raises(SystemExit, match="TESSERA_API_KEY"):
        create_app({"TESSERA_URL": tessera.url, "TESSERA_VERIFY_API_KEY": "x", "DEMO_PASSWORD": "p",
                    "TESSERA_API_KEY": ""})

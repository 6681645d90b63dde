"""The Flask integration: the decorator and the before_request hook, through Flask's client."""

from __future__ import annotations

import json

import flask
import pytest

from tessera_client import Verifier
from tessera_client.flask import TesseraFlask, current_session


@pytest.fixture
def app(verifier: Verifier):
    app = flask.Flask("kit-test")
    tessera = TesseraFlask(app, verifier=verifier)

    @app.get("/decorated")
    @tessera.require_session
    def decorated():
        return {"user": flask.g.tessera_session.user_id, "role": current_session().get("role")}

    area = flask.Blueprint("area", "area", url_prefix="/area")
    tessera.protect(area, exempt={"area.public"})

    @area.get("/private")
    def private():
        return {"sid": current_session().session_id}

    @area.get("/public")
    def public():
        return {"ok": True}

    app.register_blueprint(area)
    yield app
    tessera.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(resp, status: int):
    assert resp.status_code == status
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = json.loads(resp.data)
    assert body["status"] == status and body["type"].startswith("urn:tessera:problem:")
    return body


def test_a_verified_session_reaches_the_view(app, client):
    tokens = client.create_session("alice", claims={"role": "admin"})
    http = app.test_client()
    assert http.get("/decorated", headers=bearer(tokens.access_token)).json == \
        {"user": "alice", "role": "admin"}
    assert http.get("/area/private", headers=bearer(tokens.access_token)).json == \
        {"sid": tokens.session_id}
    assert http.get("/area/public").json == {"ok": True}


@pytest.mark.parametrize("path", ["/decorated", "/area/private"])
def test_missing_invalid_and_revoked_tokens_get_401(app, client, verifier, path):
    http = app.test_client()
    resp = http.get(path)
    assert_problem(resp, 401)
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="tessera"'
    resp = http.get(path, headers=bearer("not.a.token"))
    assert_problem(resp, 401)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    resp = http.get(path, headers={"Authorization": "Basic abc"})
    assert_problem(resp, 401)
    tokens = client.create_session("bob")
    client.revoke_session(tokens.session_id)
    verifier.feed.sync()
    resp = http.get(path, headers=bearer(tokens.access_token))
    assert_problem(resp, 401)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_an_expired_token_gets_401_that_says_refresh(app, client, clock):
    token = client.create_session("carol").access_token
    clock.offset = 3600
    resp = app.test_client().get("/decorated", headers=bearer(token))
    body = assert_problem(resp, 401)
    assert "expired" in resp.headers["WWW-Authenticate"] and "refresh" in body["detail"]


def test_a_stale_feed_gets_503_with_retry_after(app, client, clock):
    token = client.create_session("dave").access_token
    clock.offset = 6
    resp = app.test_client().get("/area/private", headers=bearer(token))
    assert_problem(resp, 503)
    assert int(resp.headers["Retry-After"]) >= 1

"""The FastAPI integration: the dependency, its lifespan and its problem answers."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tessera_client import AccessClaims, Verifier
from tessera_client.fastapi import TesseraFastAPI


@pytest.fixture
def http(server, verify_key, clock):
    tessera = TesseraFastAPI(verifier=Verifier(server.url, verify_key, clock=clock))
    app = FastAPI()
    tessera.install(app)

    @app.get("/me")
    def me(session: AccessClaims = Depends(tessera.require_session)):
        return {"user": session.user_id, "sid": session.session_id, "role": session.get("role")}

    with TestClient(app) as test_client:  # runs the lifespan: first sync before serving
        test_client.tessera = tessera
        yield test_client
    assert tessera.verifier._follower._thread is None  # stopped at shutdown


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(resp, status: int) -> dict:
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status
    return body


def test_the_dependency_returns_the_claims(http, client):
    tokens = client.create_session("alice", claims={"role": "admin"})
    assert http.get("/me", headers=bearer(tokens.access_token)).json() == \
        {"user": "alice", "sid": tokens.session_id, "role": "admin"}


def test_missing_invalid_expired_and_revoked_get_401(http, client, clock):
    resp = http.get("/me")
    assert_problem(resp, 401)
    assert resp.headers["www-authenticate"] == 'Bearer realm="tessera"'
    assert_problem(http.get("/me", headers=bearer("a.b.c")), 401)
    tokens = client.create_session("bob")
    client.revoke_session(tokens.session_id)
    http.tessera.verifier.feed.sync()
    resp = http.get("/me", headers=bearer(tokens.access_token))
    assert_problem(resp, 401)
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]
    live = client.create_session("bob").access_token
    clock.offset = 3600
    http.tessera.verifier.feed.sync()
    assert "expired" in http.get("/me", headers=bearer(live)).headers["www-authenticate"]


def test_a_stale_feed_gets_503_with_retry_after(http, client, clock):
    token = client.create_session("carol").access_token
    clock.offset = 6
    resp = http.get("/me", headers=bearer(token))
    assert_problem(resp, 503)
    assert int(resp.headers["retry-after"]) >= 1


def test_without_a_server_the_app_does_not_start(clock):
    tessera = TesseraFastAPI(verifier=Verifier("http://127.0.0.1:9", "tsk_x", clock=clock))
    app = FastAPI()
    tessera.install(app)
    with pytest.raises(Exception, match="could not be reached"):
        with TestClient(app):
            pass

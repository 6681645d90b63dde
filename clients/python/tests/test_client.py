"""The backend client against a real server, its answers and its errors."""

from __future__ import annotations

import pytest

from tessera_client import TesseraClient, TesseraError, device


def test_create_get_update_list_and_revoke(client: TesseraClient):
    tokens = client.create_session("hana", claims={"role": "editor"}, data={"cart": 3},
                                   device=device(user_agent="pytest", label="CI"))
    assert "refresh_token" not in repr(tokens) and tokens.refresh_token not in repr(tokens)
    assert tokens.access_token not in repr(tokens)
    info = client.get_session(tokens.session_id)
    assert (info.user_id, info.claims["role"], info.data, info.device["label"]) == \
        ("hana", "editor", {"cart": 3}, "CI")
    version = client.update_session(tokens.session_id, info.version, claims={"role": "viewer"})
    assert version > info.version
    with pytest.raises(TesseraError) as stale:
        client.update_session(tokens.session_id, info.version, claims={"role": "admin"})
    assert stale.value.status == 412
    assert client.get_session(tokens.session_id).claims["role"] == "viewer"
    assert [s.session_id for s in client.list_user_sessions("hana")] == [tokens.session_id]
    client.revoke_session(tokens.session_id)
    with pytest.raises(TesseraError) as gone:
        client.get_session(tokens.session_id)
    assert gone.value.status == 410 and gone.value.problem["revoke_reason"] == "admin"
    assert client.list_user_sessions("hana") == []


def test_refresh_rotates_and_a_bad_token_is_an_invalid_grant(client: TesseraClient):
    first = client.create_session("ivan")
    second = client.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    with pytest.raises(TesseraError) as info:
        client.refresh("tsr_not-a-real-token")
    assert info.value.status == 401
    assert info.value.type == "urn:tessera:problem:invalid-grant"
    assert "401" in str(info.value)


def test_unknown_and_malformed_session_ids(client: TesseraClient):
    with pytest.raises(TesseraError) as info:
        client.get_session("AAAAAAAAAAAAAAAAAAAAAA")
    assert info.value.status == 404
    with pytest.raises(TesseraError) as info:
        client.get_session("../../v1/api-keys")
    assert info.value.status in (400, 404)
    with pytest.raises(TesseraError) as info:
        client.revoke_user_sessions("ivan", except_session="not a sid")
    assert info.value.status == 400 and info.value.problem["detail"]


def test_a_wrong_or_too_narrow_key_is_refused(server, verify_key):
    with pytest.raises(TesseraError) as info:
        TesseraClient(server.url, "tsk_wrong").create_session("judy")
    assert info.value.status == 401
    with pytest.raises(TesseraError) as info:
        TesseraClient(server.url, verify_key).create_session("judy")
    assert info.value.status == 403
    assert info.value.type == "urn:tessera:problem:insufficient-scope"
    assert info.value.problem["scope"] == "sessions"
    assert "tsk_" not in repr(TesseraClient(server.url, verify_key))


def test_an_unreachable_server_is_status_zero():
    with pytest.raises(TesseraError) as info:
        TesseraClient("http://127.0.0.1:9", "tsk_x", timeout=2).create_session("kim")
    assert info.value.status == 0 and "could not be reached" in str(info.value)

"""Key rotation: a key that starts signing after the JWKS was cached is fetched on first sight."""

from __future__ import annotations

import pytest

from tessera_client import TesseraClient, TokenRejected, Verifier
from tessera_server import TesseraServer


@pytest.fixture
def own_server():
    srv = TesseraServer().start()
    yield srv
    srv.close()


def kid_of(token: str) -> str:
    import jwt
    return jwt.get_unverified_header(token)["kid"]


def test_a_rotated_key_is_fetched_once_and_the_retired_one_still_verifies(own_server, clock):
    verify_key = own_server.create_key("app", "verify")
    client = TesseraClient(own_server.url, own_server.admin_key)
    verifier = Verifier(own_server.url, verify_key, clock=clock)
    verifier.start()
    try:
        old = client.create_session("alice").access_token
        verifier.verify(old)
        fetches = verifier.keys.fetches
        # Twice: the first promotes the already published next key; the second promotes a key
        # made after the JWKS was cached, one this verifier has never seen.
        own_server.stop()
        own_server.cli("keys", "rotate")
        own_server.cli("keys", "rotate")
        own_server.start()
        client = TesseraClient(own_server.url, own_server.admin_key)
        new = client.create_session("alice").access_token
        assert kid_of(new) != kid_of(old)
        clock.offset += 11  # past the cooldown of the first start's fetch
        verifier.feed.sync()
        assert verifier.verify(new).user_id == "alice"
        assert verifier.keys.fetches == fetches + 1
        assert verifier.verify(old).user_id == "alice"  # retired, still published
        assert verifier.verify(new).user_id == "alice"
        assert verifier.keys.fetches == fetches + 1
    finally:
        verifier.stop()


def test_without_the_refetch_the_new_key_would_be_unknown(own_server, clock):
    """The control: within the cooldown the new kid is refused, so the test above can fail."""
    verify_key = own_server.create_key("app", "verify")
    verifier = Verifier(own_server.url, verify_key, clock=clock, jwks_cooldown=3600)
    verifier.start()
    try:
        own_server.stop()
        own_server.cli("keys", "rotate")
        own_server.cli("keys", "rotate")
        own_server.start()
        new = TesseraClient(own_server.url, own_server.admin_key).create_session("a").access_token
        verifier.feed.sync()
        with pytest.raises(TokenRejected) as info:
            verifier.verify(new)
        assert info.value.reason == "unknown_key"
    finally:
        verifier.stop()

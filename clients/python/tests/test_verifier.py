"""The verifier against a real server: what it accepts, and every way it refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tessera_client import (FeedStale, KeysUnavailable, RevocationFeed, TesseraClient,
                            TesseraError, TokenRejected, Verifier, jwks)
from tessera_client.jwks import KeySet
from tessera_server import TesseraServer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> "tuple[dict, dict]":
    header, payload, _sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(header))),
            json.loads(base64.urlsafe_b64decode(pad(payload))))


def forge(header: dict, payload: dict, sign) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def rejected(verifier: Verifier, token: str) -> str:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    return info.value.reason


@pytest.fixture
def token(client: TesseraClient) -> str:
    return client.create_session("alice", claims={"role": "admin"}).access_token


def test_a_genuine_token_gives_its_claims(verifier, client):
    tokens = client.create_session("alice", claims={"role": "admin"})
    claims = verifier.verify(tokens.access_token)
    assert claims.user_id == "alice"
    assert claims.session_id == tokens.session_id
    assert claims["role"] == "admin" and claims.get("nope") is None


def test_missing_and_malformed_tokens_are_refused(verifier):
    assert rejected(verifier, "") == "missing"
    assert rejected(verifier, "not-a-jwt") == "malformed"
    assert rejected(verifier, "a.b.c") == "malformed"
    assert rejected(verifier, "x" * 9000 + ".a.b") == "malformed"


def test_a_tampered_payload_or_signature_is_refused(verifier, token):
    header, payload, sig = token.split(".")
    claims = parts(token)[1]
    claims["sub"] = "mallory"
    assert rejected(verifier, f"{header}.{b64(json.dumps(claims).encode())}.{sig}") == "invalid"
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert rejected(verifier, f"{header}.{payload}.{flipped}") == "invalid"


def test_wrong_audience_or_issuer_is_refused(server, verify_key, token, clock):
    for options in ({"audience": "another-api"}, {"issuer": "https://evil.example"}):
        other = Verifier(server.url, verify_key, clock=clock, **options)
        other.start()
        try:
            assert rejected(other, token) == "invalid"
        finally:
            other.stop()


def test_an_expired_token_is_refused_after_the_leeway(verifier, token, clock):
    exp = parts(token)[1]["exp"]
    clock.offset = exp + 29 - time.time()  # within the 30 s leeway
    verifier.feed.sync()
    assert verifier.verify(token).user_id == "alice"
    clock.offset = exp + 31 - time.time()
    assert rejected(verifier, token) == "expired"


def test_alg_confusion_hs256_signed_with_the_public_key_is_refused(server, verifier, token):
    header, claims = parts(token)
    jwks = json.load(urllib.request.urlopen(server.url + "/.well-known/jwks.json"))
    public = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    for secret in (public["x"].encode(), base64.urlsafe_b64decode(public["x"] + "==")):
        forged = forge({**header, "alg": "HS256"}, claims,
                       lambda m, s=secret: hmac.new(s, m, hashlib.sha256).digest())
        assert rejected(verifier, forged) == "invalid"
    assert rejected(verifier, forge({**header, "alg": "none"}, claims, lambda m: b"")) == "invalid"


def test_a_token_signed_by_another_key_is_refused(verifier, token):
    header, claims = parts(token)
    mine = Ed25519PrivateKey.generate()
    assert rejected(verifier, forge(header, claims, mine.sign)) == "invalid"  # the real kid


def test_an_unknown_kid_refetches_at_most_once_per_cooldown(verifier, token, clock):
    header, claims = parts(token)
    mine = Ed25519PrivateKey.generate()
    before = verifier.keys.fetches
    # Fetched at start, so within the 10 s cooldown an unknown kid fetches nothing.
    assert rejected(verifier, forge({**header, "kid": "forged-0"}, claims, mine.sign)) == "unknown_key"
    assert verifier.keys.fetches == before
    clock.offset += 11
    verifier.feed.sync()
    for kid in ("forged-1", "forged-2", "forged-3"):
        assert rejected(verifier, forge({**header, "kid": kid}, claims, mine.sign)) == "unknown_key"
    assert verifier.keys.fetches == before + 1


def test_a_stale_cache_is_refetched_at_most_once_per_cooldown_while_the_server_fails(
        clock, monkeypatch):
    """Past ``max_age``, a server that cannot answer is asked again only after the cooldown:
    each verification does not queue its own fetch behind a lock, and the keys held go on
    verifying meanwhile."""
    calls = []

    def failing(*_args, **_kwargs):
        calls.append(1)
        raise TesseraError(503, message="down")

    keys = KeySet("http://127.0.0.1:9/jwks.json", cooldown=10.0, max_age=30.0, clock=clock)
    monkeypatch.setattr(keys, "_keys", {"k1": object()})  # as fetched at start
    monkeypatch.setattr(keys, "_fetched_at", clock())
    monkeypatch.setattr(keys, "_tried_at", clock())
    monkeypatch.setattr(jwks._http, "request", failing)
    clock.offset += 31  # past max_age
    for _ in range(5):
        assert keys.key_for("k1") is not None
    assert len(calls) == 1, "one fetch for the stale cache, not one per verification"
    clock.offset += 11  # past the cooldown
    for _ in range(5):
        keys.key_for("k1")
    assert len(calls) == 2


def test_the_jwks_is_refetched_after_the_servers_30_seconds():
    assert KeySet("http://x/jwks.json")._max_age == 30.0


def test_headers_that_pick_their_own_key_or_type_are_refused(verifier, token):
    header, claims = parts(token)
    mine = Ed25519PrivateKey.generate()
    for bad in ({**header, "jku": "https://evil.example/jwks"}, {**header, "crit": ["exp"]},
                {**header, "typ": "JWT"}, {k: v for k, v in header.items() if k != "kid"}):
        assert rejected(verifier, forge(bad, claims, mine.sign)) in ("invalid", "malformed"), bad


def test_the_keys_are_cached_not_fetched_per_token(verifier, client):
    before = verifier.keys.fetches
    for _ in range(5):
        verifier.verify(client.create_session("bob").access_token)
    assert verifier.keys.fetches == before


def test_a_revoked_session_is_refused_once_the_feed_says_so(verifier, client):
    tokens = client.create_session("carol")
    verifier.verify(tokens.access_token)
    client.revoke_session(tokens.session_id)
    verifier.feed.sync()
    assert rejected(verifier, tokens.access_token) == "revoked"


def test_revocation_reaches_the_app_through_the_feed_thread(verifier, client):
    tokens = client.create_session("dave")
    verifier.verify(tokens.access_token)
    client.revoke_session(tokens.session_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            verifier.verify(tokens.access_token)
        except TokenRejected as err:
            assert err.reason == "revoked"
            return
        time.sleep(0.05)
    pytest.fail("the feed thread never delivered the revocation")


def test_logout_everywhere_and_all_but_this_one(verifier, client):
    keep, other, third = (client.create_session("erin") for _ in range(3))
    revoked = client.revoke_user_sessions("erin", except_session=keep.session_id)
    assert sorted(revoked) == sorted([other.session_id, third.session_id])
    verifier.feed.sync()
    assert verifier.verify(keep.access_token).session_id == keep.session_id
    assert rejected(verifier, other.access_token) == "revoked"
    client.revoke_user_sessions("erin")
    verifier.feed.sync()
    assert rejected(verifier, keep.access_token) == "revoked"


def test_a_single_revoked_token_is_refused_but_not_its_session(server, verifier, client):
    first = client.create_session("frank")
    second = client.refresh(first.refresh_token)
    req = urllib.request.Request(server.url + "/oauth2/revoke", method="POST",
                                 data=f"token={first.access_token}".encode(),
                                 headers={"Authorization": f"Bearer {server.admin_key}",
                                          "Content-Type": "application/x-www-form-urlencoded"})
    urllib.request.urlopen(req).close()
    verifier.feed.sync()
    assert rejected(verifier, first.access_token) == "revoked"
    assert verifier.verify(second.access_token).session_id == first.session_id


def test_the_feed_pages_through_everything(server, verify_key, client, clock):
    sessions = [client.create_session("gina") for _ in range(5)]
    for s in sessions:
        client.revoke_session(s.session_id)
    feed = RevocationFeed(server.url, verify_key, page_size=2, clock=clock)
    feed.sync()
    assert all(feed.check(s.session_id, "x") for s in sessions)
    assert not feed.check("someone-else", "x")


def test_a_stale_feed_fails_closed_and_recovers(verifier, token, clock):
    clock.offset = 6  # past the 5 s default staleness, without a sync
    with pytest.raises(FeedStale):
        verifier.verify(token)
    verifier.feed.sync()
    assert verifier.verify(token).user_id == "alice"


def test_a_feed_never_synced_vouches_for_nothing(server, verify_key, token):
    with pytest.raises(FeedStale):
        Verifier(server.url, verify_key).verify(token)


def test_a_server_that_cannot_be_reached_is_an_outage_not_a_bad_token(token):
    dead = Verifier("http://127.0.0.1:9", "tsk_nothing")
    with pytest.raises(KeysUnavailable):
        dead.verify(token)


def test_the_feed_refuses_a_key_without_the_verify_scope(server):
    metrics_key = server.create_key("metrics-only", "metrics")
    feed = RevocationFeed(server.url, metrics_key)
    with pytest.raises(Exception) as info:
        feed.sync()
    assert getattr(info.value, "status", None) == 403  # a valid key of too narrow a scope
    with pytest.raises(FeedStale):
        feed.check("sid", "jti")


def test_settings_out_of_range_are_refused(server, verify_key):
    with pytest.raises(ValueError):
        Verifier(server.url, verify_key, leeway=3600)
    with pytest.raises(ValueError):
        RevocationFeed(server.url, verify_key, page_size=5000)

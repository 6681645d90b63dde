"""The revocation feed against a fake HTTP layer (no ``tessera serve``): the view keeps the
fingerprint of the entry at its cursor, and reads the feed again from its start when the
server's ``at`` says that entry is gone or changed (a Redis that went back renumbers)."""

from __future__ import annotations

import urllib.parse
from typing import Any, Dict, List, Optional

import pytest

from tessera_client import FeedStale, RevocationFeed, TesseraError
from tessera_client import _http

UNTIL = 4_000_000_000  # far in the future
NOW = 1_000_000.0


class FakeFeed:
    """The feed in memory, answering as Tessera does; ``fingerprints=False`` plays a server
    older than ``at``/``next_at``. ``afters`` records the ``after`` of each request."""

    def __init__(self, fingerprints: bool = True) -> None:
        self.entries: List[Dict[str, Any]] = []
        self.fingerprints = fingerprints
        self.afters: List[int] = []
        self.fail_at_call: Optional[int] = None

    def add(self, *ids: str) -> None:
        last = self.entries[-1]["cursor"] if self.entries else 0
        for i, sid in enumerate(ids):
            self.entries.append({"cursor": last + i + 1, "session_id": sid, "until": UNTIL})

    def go_back(self, cursor: int) -> None:
        """The state where the feed ended at ``cursor`` (a failover that lost writes)."""
        self.entries = [e for e in self.entries if e["cursor"] <= cursor]

    def purge(self, cursor: int) -> None:
        self.entries = [e for e in self.entries if e["cursor"] != cursor]

    def request(self, method: str, url: str, **_kw: Any) -> "tuple[int, Any, dict]":
        assert method == "GET"
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        after, limit = int(query["after"][0]), int(query["limit"][0])
        self.afters.append(after)
        if self.fail_at_call == len(self.afters):
            raise TesseraError(0, message="Tessera could not be reached")
        fp = lambda e: f"{e['cursor']}|{e['session_id']}|{e['until']}"  # noqa: E731
        at_entry = next((e for e in self.entries if after > 0 and e["cursor"] == after), None)
        page = [e for e in self.entries if e["cursor"] > after][:limit]
        doc: Dict[str, Any] = {"revocations": page, "next_cursor": page[-1]["cursor"] if page else after,
                               "more": len(page) == limit}
        if self.fingerprints:
            doc["at"] = fp(at_entry) if at_entry else None
            doc["next_at"] = fp(page[-1]) if page else doc["at"]
        return 200, doc, {}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeFeed:
    f = FakeFeed()
    monkeypatch.setattr(_http, "request", f.request)
    return f


def follow(clock: Clock, page_size: int = 10) -> RevocationFeed:
    return RevocationFeed("http://tessera.test", "k", page_size=page_size, clock=clock)


def revoked(feed: RevocationFeed, sid: str) -> bool:
    return feed.check(sid, "no-such-token")


def test_a_feed_that_goes_on_is_not_read_again(fake: FakeFeed, clock: Clock) -> None:
    fake.add("s1", "s2", "s3")
    feed = follow(clock)
    feed.sync()
    assert feed.cursor == 3
    fake.add("s4")
    feed.sync()
    assert fake.afters == [0, 3]
    assert revoked(feed, "s4") and feed.cursor == 4


def test_a_feed_that_went_back_is_read_from_its_start(fake: FakeFeed, clock: Clock) -> None:
    fake.add("s1", "s2", "s3", "s4", "s5")
    feed = follow(clock)
    feed.sync()
    # A failover lost 4 and 5; new revocations take their numbers, then one more.
    fake.go_back(3)
    fake.add("new4", "new5", "new6")
    fake.afters.clear()
    feed.sync()
    assert fake.afters == [5, 0], "the entry at 5 is another one: read again from 0"
    assert all(revoked(feed, s) for s in ("new4", "new5", "new6"))
    assert all(revoked(feed, s) for s in ("s1", "s4", "s5")), "what was known stays"
    assert feed.cursor == 6
    fake.afters.clear()
    feed.sync()
    assert fake.afters == [6]


def test_the_entry_at_the_cursor_purged_reads_again(fake: FakeFeed, clock: Clock) -> None:
    fake.add("s1", "s2")
    feed = follow(clock)
    feed.sync()
    fake.purge(2)
    fake.afters.clear()
    feed.sync()
    assert fake.afters == [2, 0]
    assert feed.cursor == 1
    assert revoked(feed, "s2")


def test_caught_up_only_when_the_re_read_ends(fake: FakeFeed, clock: Clock) -> None:
    fake.add("s1", "s2", "s3")
    feed = follow(clock, page_size=1)
    feed.sync()
    fake.go_back(1)
    fake.add("new2", "new3", "new4")
    fake.afters.clear()
    fake.fail_at_call = 3  # the re-read's second page
    clock.now += 4
    with pytest.raises(TesseraError):
        feed.sync()
    assert fake.afters == [3, 0, 1]
    clock.now += 2  # past the staleness since the last sync that caught up
    with pytest.raises(FeedStale):
        feed.check("s1", "x")  # the interrupted re-read did not catch up
    fake.afters.clear()
    fake.fail_at_call = None
    feed.sync()
    assert fake.afters == [1, 2, 3, 4], "the re-read goes on where it stopped"
    assert all(revoked(feed, s) for s in ("new2", "new3", "new4"))


def test_at_most_one_rewind_per_sync(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    answers = [
        {"revocations": [], "next_cursor": 5, "more": False, "at": "gone", "next_at": "gone"},
        {"revocations": [{"cursor": 2, "session_id": "a", "until": UNTIL}], "next_cursor": 2,
         "more": True, "at": None, "next_at": "fp2"},
        # The entry at 2 was purged meanwhile: the page is taken as it is, no second rewind.
        {"revocations": [{"cursor": 3, "session_id": "b", "until": UNTIL}], "next_cursor": 3,
         "more": False, "at": None, "next_at": "fp3"},
    ]
    afters: List[int] = []

    def request(_method: str, url: str, **_kw: Any) -> "tuple[int, Any, dict]":
        afters.append(int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["after"][0]))
        return 200, answers.pop(0), {}

    monkeypatch.setattr(_http, "request", request)
    feed = follow(clock)
    feed._cursor, feed._at = 5, "fp5"
    feed.sync()
    assert afters == [5, 0, 2]
    assert revoked(feed, "a") and revoked(feed, "b")
    assert feed.cursor == 3


def test_an_older_server_is_not_checked(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    fake = FakeFeed(fingerprints=False)
    monkeypatch.setattr(_http, "request", fake.request)
    fake.add("s1", "s2", "s3")
    feed = follow(clock)
    feed.sync()
    fake.go_back(1)
    fake.add("new2", "new3", "new4")
    fake.afters.clear()
    feed.sync()
    assert fake.afters == [3], "no way to tell: the cursor goes on"
    assert revoked(feed, "new4") and not revoked(feed, "new2")
    # The server is upgraded: the fingerprint kept is unknown, so the feed is read again once.
    fake.fingerprints = True
    fake.afters.clear()
    feed.sync()
    assert fake.afters == [4, 0]
    assert revoked(feed, "new2") and revoked(feed, "new3")
    fake.afters.clear()
    feed.sync()
    assert fake.afters == [4]


def test_a_fingerprint_that_is_not_a_string_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                       clock: Clock) -> None:
    monkeypatch.setattr(_http, "request", lambda *_a, **_k: (
        200, {"revocations": [], "next_cursor": 0, "more": False, "at": 5}, {}))
    with pytest.raises(TesseraError, match="unexpected"):
        follow(clock).sync()


class Scripted:
    """A server answering ``answers`` in turn (a sharded Redis: a feed per shard, a string
    cursor); ``urls`` records each URL requested, to show what was handed back as ``after``."""

    def __init__(self, answers: List[Dict[str, Any]]) -> None:
        self.answers = answers
        self.urls: List[str] = []

    def request(self, method: str, url: str, **_kw: Any) -> "tuple[int, Any, dict]":
        assert method == "GET"
        self.urls.append(url)
        return 200, self.answers.pop(0), {}


def url_after(after: str) -> str:
    return f"http://tessera.test/v1/revocations?after={after}&limit=10"


def sharded(cursor: int, feed: int, sid: str) -> Dict[str, Any]:
    return {"cursor": cursor, "session_id": sid, "until": UNTIL, "feed": feed}


def test_string_cursors_are_handed_back_as_they_came(monkeypatch: pytest.MonkeyPatch,
                                                      clock: Clock) -> None:
    server = Scripted([
        {"revocations": [sharded(1, 0, "s1"), sharded(1, 2, "s2")], "next_cursor": "1.0.1",
         "more": True, "at": "start", "next_at": "fp-a"},
        {"revocations": [sharded(1, 1, "s3")], "next_cursor": "1.1.1", "more": False,
         "at": "fp-a", "next_at": "fp-b"},
        # The next sync: nothing new, the cursor stays.
        {"revocations": [], "next_cursor": "1.1.1", "more": False, "at": "fp-b", "next_at": "fp-b"},
        {"revocations": [sharded(12, 2, "s4")], "next_cursor": "1.1.12", "more": False,
         "at": "fp-b", "next_at": "fp-c"},
    ])
    monkeypatch.setattr(_http, "request", server.request)
    feed = follow(clock)
    feed.sync()
    assert server.urls == [url_after("0"), url_after("1.0.1")]
    assert feed.cursor == "1.1.1"
    assert all(revoked(feed, s) for s in ("s1", "s2", "s3"))
    feed.sync()
    feed.sync()
    assert server.urls[2:] == [url_after("1.1.1"), url_after("1.1.1")]
    assert revoked(feed, "s4") and feed.cursor == "1.1.12"


def test_a_sharded_feed_that_went_back_is_read_from_after_0(monkeypatch: pytest.MonkeyPatch,
                                                            clock: Clock) -> None:
    server = Scripted([
        {"revocations": [sharded(3, 0, "s1"), sharded(2, 2, "s2")], "next_cursor": "3.0.2",
         "more": False, "at": "start", "next_at": "fp-3.0.2"},
        # A failover lost writes: the entries at 3.0.2 are others now.
        {"revocations": [], "next_cursor": "3.0.2", "more": False, "at": "fp-other",
         "next_at": "fp-other"},
        {"revocations": [sharded(1, 0, "new1"), sharded(1, 1, "new2")], "next_cursor": "1.1.0",
         "more": False, "at": "start", "next_at": "fp-1.1.0"},
        # And it goes on from there without reading again.
        {"revocations": [], "next_cursor": "1.1.0", "more": False, "at": "fp-1.1.0",
         "next_at": "fp-1.1.0"},
    ])
    monkeypatch.setattr(_http, "request", server.request)
    feed = follow(clock)
    feed.sync()
    assert feed.cursor == "3.0.2"
    feed.sync()
    assert server.urls == [url_after("0"), url_after("3.0.2"), url_after("0")], \
        "the answer at 3.0.2 names another entry: read again from 0"
    assert feed.cursor == "1.1.0"
    assert all(revoked(feed, s) for s in ("new1", "new2", "s1", "s2")), "what was known stays"
    feed.sync()
    assert server.urls[3:] == [url_after("1.1.0")]


def test_a_malformed_cursor_on_the_first_page_fails_closed(monkeypatch: pytest.MonkeyPatch,
                                                           clock: Clock) -> None:
    server = Scripted([{"revocations": [], "next_cursor": {"feeds": [0, 0]}, "more": False,
                        "at": None, "next_at": None}])
    monkeypatch.setattr(_http, "request", server.request)
    feed = follow(clock)
    with pytest.raises(TesseraError, match="unexpected"):
        feed.sync()
    assert feed.cursor == 0
    with pytest.raises(FeedStale):
        feed.check("s1", "x")


@pytest.mark.parametrize("bad", ["1.x", "", "1..2", ".1", "1.", "-1", " 1", "1.0\n", "1e3", "١.٢",
                                 1.5, True, None, [1, 0], {"feeds": [1, 0]}])
def test_a_malformed_cursor_fails_closed(monkeypatch: pytest.MonkeyPatch, clock: Clock,
                                         bad: Any) -> None:
    server = Scripted([
        {"revocations": [sharded(1, 0, "s1")], "next_cursor": "1.0", "more": False, "at": "start",
         "next_at": "fp-1.0"},
        {"revocations": [sharded(1, 1, "s2")], "next_cursor": bad, "more": False, "at": "fp-1.0",
         "next_at": "fp-x"},
    ])
    monkeypatch.setattr(_http, "request", server.request)
    feed = follow(clock)
    feed.sync()
    clock.now += 6  # past the staleness since the last sync that caught up
    with pytest.raises(TesseraError, match="unexpected"):
        feed.sync()
    assert server.urls == [url_after("0"), url_after("1.0")]
    assert feed.cursor == "1.0", "the cursor stays"
    with pytest.raises(FeedStale):
        feed.check("s2", "x")  # not caught up: verification fails closed
    clock.now = NOW
    assert not revoked(feed, "s2"), "nothing of the page is applied"

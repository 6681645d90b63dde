"""The revocation feed, followed into memory: logout reaches this app within a second or so.

Tessera appends every revoked session (and single revoked token) to a feed with a cursor. The
feed is read with a ``verify`` API key, page by page, into two small maps (session id or token
id to the time its last token expires), and entries are forgotten once no token they cover can
still be valid. While the view cannot show it caught up within ``staleness`` seconds, it
vouches for nothing: verification fails closed with :class:`FeedStale`.

A feed that went back: a Redis restored from an older state (or a failover that lost the newest
writes) numbers new revocations again from where it went back to, so a cursor past that point
would skip them forever. The view therefore keeps, with its cursor, the fingerprint of the entry
at that cursor (the server's ``next_at``), and each answer says which entry is at ``after`` now
(``at``). If they differ (the feed went back, or that entry was purged), the feed is read again
from its start: entries are idempotent and the feed holds only live ones, so what the view knows
stays. That happens at most once per sync (as in the server's own sync), so a purge racing the
re-read cannot loop. A server older than the fingerprints answers neither field: then nothing is
checked, as before.

The cursor is the server's ``next_cursor``, handed back as it came: a number for a store with one
feed (SQLite, PostgreSQL), or for a sharded Redis (a feed per shard) a string of the feeds'
numbers joined by dots. The string is opaque here: any change to it is a step forward (its feeds
only move forward), and only its shape is checked. The start is 0 either way.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Callable, Dict, Optional, Union

from . import _http
from .errors import FeedStale, TesseraError

log = logging.getLogger("tessera_client.feed")

#: The server's own default ``feed_staleness``.
DEFAULT_STALENESS = 5.0
#: Entries asked for per page (the server's maximum is 1000).
PAGE = 1000
#: Pages read in one sync at most; the next sync goes on from there.
MAX_PAGES = 100

#: A position in the feed: a number (one feed) or numbers joined by dots (a sharded store).
Cursor = Union[int, str]
#: The shape of a string cursor.
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)*")

#: A fingerprint the server did not send (a server older than ``at``/``next_at``).
_UNKNOWN = object()
#: What :meth:`RevocationFeed._read_page` answers when the feed must be read again from 0.
_REWIND = object()


class RevocationFeed:
    """An in-memory view of ``GET /v1/revocations``.

    Args:
        base_url: the Tessera server, e.g. ``http://127.0.0.1:8080``.
        api_key: a ``verify`` (or wider) API key.
        staleness: seconds after the last successful sync beyond which the view vouches for
            nothing (default 5, the server's own).
        clock: seconds since the epoch; injected so tests need no sleep.
    """

    def __init__(self, base_url: str, api_key: str, *, staleness: float = DEFAULT_STALENESS,
                 page_size: int = PAGE, timeout: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        if not 1 <= page_size <= PAGE:
            raise ValueError(f"page_size must be between 1 and {PAGE}")
        self._url = _http.join(base_url, "/v1/revocations")
        self._api_key = api_key
        self.staleness = staleness
        self._page_size = page_size
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._sessions: Dict[str, int] = {}
        self._tokens: Dict[str, int] = {}
        self._cursor: Cursor = 0
        # The fingerprint of the entry at the cursor: None for none (cursor 0), _UNKNOWN when
        # the server did not say (an older server; it never matches a server that does).
        self._at: object = None
        self._synced_at: Optional[float] = None

    @property
    def cursor(self) -> Cursor:
        """The feed cursor the view reflects: the server's ``next_cursor`` as it came (0 at the
        start)."""
        return self._cursor

    def sync(self) -> None:
        """Reads every entry past the cursor; on success the view is current as of the start.

        Raises:
            TesseraError: the server could not be reached or refused the key; the view keeps
                what it had and goes stale after ``staleness`` seconds.
        """
        with self._sync_lock:
            started = self._clock()
            rewound = False
            for _ in range(MAX_PAGES):
                more = self._read_page(check=not rewound)
                if more is _REWIND:
                    # Not caught up until this re-read reaches the end (a later sync may).
                    log.warning("the revocation feed went back (or its entry at the cursor was "
                                "purged); reading it again from the start")
                    rewound = True
                    continue
                if not more:
                    break
            else:
                return  # more to read: not caught up yet
            with self._lock:
                self._synced_at = started
                self._prune(int(started))

    def _read_page(self, check: bool = True) -> object:
        """Applies one page; whether the next page may hold more, or ``_REWIND`` when ``check``
        is set and the entry at the cursor is not the one kept (the cursor is then back at 0)."""
        url = f"{self._url}?after={self._cursor}&limit={self._page_size}"
        _status, doc, _headers = _http.request("GET", url, api_key=self._api_key,
                                               timeout=self._timeout)
        entries, next_cursor, more, at, next_at = _page(doc)
        with self._lock:
            # ``at`` absent: an older server, nothing to check.
            if check and self._cursor != 0 and at is not _UNKNOWN and at != self._at:
                self._cursor, self._at = 0, None
                return _REWIND
            for entry in entries:
                self._apply(entry)
            # Only forward: an answer with a smaller cursor must not make old entries new.
            if _is_forward(next_cursor, self._cursor):
                self._cursor = next_cursor
                self._at = None if next_cursor == 0 else next_at
        # The server says whether the page was full: it leaves out entries that are not for
        # apps (its own API keys), so the number listed cannot tell.
        return more

    def _apply(self, entry: Dict[str, Any]) -> None:
        until = int(entry.get("until", 0))
        if isinstance(entry.get("session_id"), str):
            self._sessions[entry["session_id"]] = max(until, self._sessions.get(entry["session_id"], 0))
        if isinstance(entry.get("token_id"), str):
            self._tokens[entry["token_id"]] = max(until, self._tokens.get(entry["token_id"], 0))

    def _prune(self, now: int) -> None:
        self._sessions = {k: v for k, v in self._sessions.items() if v > now}
        self._tokens = {k: v for k, v in self._tokens.items() if v > now}

    def check(self, session_id: str, token_id: str) -> bool:
        """Whether a token of ``session_id`` with id ``token_id`` is revoked.

        Raises:
            FeedStale: the view has not caught up within ``staleness``: it cannot say.
        """
        now = self._clock()
        with self._lock:
            synced = self._synced_at
            if synced is None or not (synced <= now + self.staleness and now - synced <= self.staleness):
                raise FeedStale(None if synced is None else now - synced)
            return session_id in self._sessions or token_id in self._tokens


def _is_cursor(value: Any) -> bool:
    """A cursor as the server answers it: an integer (not a bool), or numbers joined by dots."""
    if isinstance(value, str):
        return _DOTTED.fullmatch(value) is not None
    return isinstance(value, int) and not isinstance(value, bool)


def _is_forward(next_cursor: Cursor, cursor: Cursor) -> bool:
    """Whether the view may move from ``cursor`` to ``next_cursor``: numbers never go back; a
    string is opaque, so it is taken as it came (as is a change between a number and a string)."""
    if isinstance(next_cursor, int) and isinstance(cursor, int):
        return next_cursor >= cursor
    return True


def _page(doc: Any) -> "tuple[list[Dict[str, Any]], Cursor, bool, object, object]":
    """The entries, ``next_cursor``, ``more``, ``at`` and ``next_at`` (``_UNKNOWN`` if absent)."""
    if (not isinstance(doc, dict) or not _is_cursor(doc.get("next_cursor"))
            or not isinstance(doc.get("more"), bool)
            or not all(doc.get(f) is None or isinstance(doc[f], str) for f in ("at", "next_at"))):
        raise TesseraError(0, message="the revocation feed answered an unexpected document")
    items = doc.get("revocations")
    entries = [e for e in items if isinstance(e, dict) and isinstance(e.get("cursor"), int)] \
        if isinstance(items, list) else []
    return (entries, doc["next_cursor"], doc["more"], doc.get("at", _UNKNOWN),
            doc.get("next_at", _UNKNOWN))


class FeedFollower:
    """Keeps a :class:`RevocationFeed` current from a daemon thread (one per process).

    :meth:`start` syncs once before returning (so the app never serves on an empty view), then
    polls every ``interval`` seconds; :meth:`stop` ends the thread and waits for it.
    """

    def __init__(self, feed: RevocationFeed, interval: float = 1.0) -> None:
        self.feed = feed
        self._interval = interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """First sync, then the thread.

        Raises:
            TesseraError: the first sync failed (wrong URL or key, server down): the app should
                not start serving.
        """
        if self._thread is not None:
            return
        self.feed.sync()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tessera-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread (it finishes any request under way) and waits for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.feed.sync()
            except TesseraError as err:
                log.warning("revocation feed sync failed; will retry: %s", err)
            except Exception:  # noqa: BLE001 - the thread must outlive any surprise
                log.exception("revocation feed sync failed unexpectedly; will retry")

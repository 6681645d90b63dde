// The revocation feed, followed in memory: every revoked session id and token id, each kept
// until its `until` (when its last access token has expired anyway) plus the clock leeway. The feed is polled on an
// interval and paged until caught up; `fresh()` says whether it was caught up recently enough
// to trust an absence from the set. Timers are unref'ed, so the feed never keeps a process alive.
//
// A feed that went back: a Redis restored from an older state (or a failover that lost the newest
// writes) numbers new revocations again from where it went back to, so a cursor past that point
// would skip them forever. The feed therefore keeps, with its cursor, the fingerprint of the entry
// at that cursor (the server's `next_at`); each answer says which entry is at `after` now (`at`).
// If they differ (the feed went back, or the entry was purged), the feed is read again from its
// start: entries are idempotent and the feed holds only live ones, so what is known stays. This is
// done at most once per poll (the server does the same), so a purge racing the re-read cannot loop.
// A server older than the fingerprints answers neither field: then nothing is checked.
//
// The cursor is the server's `next_cursor`, handed back as it came: a number for a store with one
// feed (SQLite, PostgreSQL), or for a sharded Redis (a feed per shard) a string of the feeds'
// numbers joined by dots. The string is opaque here: any change to it is a step forward (its
// feeds only move forward), and only its shape is checked. The start is 0 either way.

/** Most pages read in one poll before yielding to the next tick. */
const MAX_PAGES = 100;

/** Follows `GET /v1/revocations?after=`. */
export class RevocationFeed {
  /**
   * @param {{ url: string, apiKey: string, intervalMs: number, stalenessMs: number,
   *   graceMs: number, pageSize: number, fetch: typeof fetch, now: () => number, onError: (e: Error) => void }} options
   */
  constructor({ url, apiKey, intervalMs, stalenessMs, graceMs, pageSize, fetch, now, onError }) {
    Object.assign(this, { url, apiKey, intervalMs, stalenessMs, graceMs, pageSize, fetch, now, onError });
    /** @type {Map<string, number>} revoked id → until (ms) */
    this.revoked = new Map();
    /** @type {number | string} the server's `next_cursor` as it came; 0 is the start */
    this.cursor = 0;
    /** @type {string | null | undefined} the fingerprint of the entry at `cursor`: null for none
     * (cursor 0), undefined when unknown (the server did not say: an older server) */
    this.at = null;
    this.caughtUpAt = undefined;
    this.timer = undefined;
    this.closed = false;
    this.abort = new AbortController();
    this.firstPoll = undefined;
  }

  /** Starts polling; the returned promise settles (never rejects) when the first poll ends. */
  start() {
    this.firstPoll ??= this.tick();
    return this.firstPoll;
  }

  /** Whether `id` (a session id or token id) is revoked. */
  has(id) {
    const until = this.revoked.get(id);
    return until !== undefined && until > this.now();
  }

  /** Whether the feed caught up within the staleness bound. */
  fresh() {
    return this.caughtUpAt !== undefined && this.now() - this.caughtUpAt <= this.stalenessMs;
  }

  /** Stops polling and aborts a poll in flight. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }

  async tick() {
    try {
      await this.poll();
    } catch (e) {
      if (!this.closed) this.onError(e);
    }
    if (!this.closed) {
      this.timer = setTimeout(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Reads pages until the server says no more follow; then the feed is caught up. */
  async poll() {
    const started = this.now();
    let rewound = false;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const next = await this.readPage(!rewound);
      if (next === 'rewind') {
        // Not caught up until the re-read reaches the end (a later poll may finish it).
        rewound = true;
        continue;
      }
      if (!next) {
        this.caughtUpAt = started;
        this.prune();
        return;
      }
    }
  }

  /**
   * Reads and applies one page. Answers whether more may follow, or `'rewind'` when `check` is
   * set and the entry at the cursor is not the one kept: the cursor is then back at 0.
   * @param {boolean} check
   * @returns {Promise<boolean | 'rewind'>}
   */
  async readPage(check = true) {
    const url = `${this.url}/v1/revocations?after=${this.cursor}&limit=${this.pageSize}`;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(10_000)]);
    const res = await this.fetch(url, { headers: { authorization: `Bearer ${this.apiKey}` }, signal });
    if (!res.ok) throw new Error(`revocation feed answered ${res.status}`);
    const body = await res.json();
    if (!Array.isArray(body?.revocations) || !isCursor(body.next_cursor) || typeof body.more !== 'boolean') {
      throw new Error('revocation feed answered an unexpected body');
    }
    if (!isFingerprint(body.at) || !isFingerprint(body.next_at)) {
      throw new Error('revocation feed answered an unexpected body');
    }
    // `at` missing: an older server, nothing to check. Otherwise it must name the entry kept with
    // the cursor (a kept fingerprint that is unknown, from an older server, never matches).
    if (check && this.cursor !== 0 && body.at !== undefined && body.at !== this.at) {
      this.cursor = 0;
      this.at = null;
      return 'rewind';
    }
    for (const entry of body.revocations) {
      const id = entry.session_id ?? entry.token_id;
      if (typeof id === 'string' && Number.isFinite(entry.until)) this.revoked.set(id, entry.until * 1000 + this.graceMs);
    }
    // Only forward: an answer with a smaller cursor must not make old entries count as new.
    if (isForward(body.next_cursor, this.cursor)) {
      this.cursor = body.next_cursor;
      this.at = body.next_cursor === 0 ? null : body.next_at;
    }
    // Whether the page was full: the number listed cannot tell, as the server leaves out
    // revocations of its own API keys.
    return body.more;
  }

  /** Forgets revocations whose tokens have all expired. */
  prune() {
    const now = this.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
  }
}

/** A cursor as the server answers it: an integer, or numbers joined by dots (a sharded store). */
function isCursor(value) {
  return Number.isSafeInteger(value) || (typeof value === 'string' && /^[0-9]+(\.[0-9]+)*$/.test(value));
}

/** Whether the feed may move from cursor `from` to `next`: numbers never go back; a string is
 * opaque, so it is taken as it came (as is a change between a number and a string). */
function isForward(next, from) {
  return typeof next === 'number' && typeof from === 'number' ? next >= from : true;
}

/** A fingerprint as the server answers it: a string, null for none, or absent (older server). */
function isFingerprint(value) {
  return value === undefined || value === null || typeof value === 'string';
}

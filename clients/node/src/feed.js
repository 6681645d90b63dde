// The revocation feed, followed in memory: every revoked session id and token id, each kept
// until its `until` (when its last access token has expired anyway) plus the clock leeway. The feed is polled on an
// interval and paged until caught up; `fresh()` says whether it was caught up recently enough
// to trust an absence from the set. Timers are unref'ed, so the feed never keeps a process alive.

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
    this.cursor = 0;
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
    for (let page = 0; page < MAX_PAGES; page += 1) {
      if (!(await this.readPage())) {
        this.caughtUpAt = started;
        this.prune();
        return;
      }
    }
  }

  async readPage() {
    const url = `${this.url}/v1/revocations?after=${this.cursor}&limit=${this.pageSize}`;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(10_000)]);
    const res = await this.fetch(url, { headers: { authorization: `Bearer ${this.apiKey}` }, signal });
    if (!res.ok) throw new Error(`revocation feed answered ${res.status}`);
    const body = await res.json();
    if (!Array.isArray(body?.revocations) || !Number.isSafeInteger(body.next_cursor) || typeof body.more !== 'boolean') {
      throw new Error('revocation feed answered an unexpected body');
    }
    for (const entry of body.revocations) {
      const id = entry.session_id ?? entry.token_id;
      if (typeof id === 'string' && Number.isFinite(entry.until)) this.revoked.set(id, entry.until * 1000 + this.graceMs);
    }
    // Only forward: an answer with a smaller cursor must not make old entries count as new.
    this.cursor = Math.max(this.cursor, body.next_cursor);
    // Whether the page was full: the number listed cannot tell, as the server leaves out
    // revocations of its own API keys.
    return body.more;
  }

  prune() {
    const now = this.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
  }
}

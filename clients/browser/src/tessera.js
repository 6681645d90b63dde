// The client of one Tessera server: the access token kept in memory only (never in storage or a
// cookie of its own), minted from the cookie session by POST /auth/refresh a little before it
// expires, once for all the tabs of the origin; a fetch that signs requests and retries once
// after a 401; sign-in and sign-out that every tab follows.

import { TesseraError } from './error.js';
import { tabs } from './tabs.js';

/** Methods that change nothing, so they carry no CSRF token. */
const SAFE = /^(GET|HEAD|OPTIONS|TRACE)$/;
/** Longest wait for Tessera's answer, in ms. */
const TIMEOUT = 30_000;

export class Tessera extends EventTarget {
  #base;
  #origin;
  #origins;
  #skew;
  #tabs;
  #token = null;
  /** When the token stops being handed out (its expiry less the skew), in ms since the epoch. */
  #stale = 0;
  #csrf = null;
  /** The session the token and CSRF token are of: its id (`sid`). */
  #sid = null;
  /** true signed in, false signed out, null not known yet. */
  #in = null;
  #pending = null;
  /** Called after each message from another tab, while this one waits for a token. */
  #wake = null;

  /**
   * @param {{ baseUrl?: string, tokenOrigins?: string[], skew?: number }} [options]
   */
  constructor({ baseUrl = location.origin, tokenOrigins = [], skew = 30 } = {}) {
    super();
    const base = new URL(baseUrl, location.href);
    if (!/^https?:$/.test(base.protocol)) throw new TypeError('baseUrl must be an http(s) URL');
    if (!(skew >= 0)) throw new TypeError('skew must be a number of seconds, 0 or more');
    this.#base = base.origin + base.pathname.replace(/\/+$/, '');
    this.#origin = base.origin;
    this.#origins = new Set([location.origin, base.origin, ...tokenOrigins.map((o) => new URL(o).origin)]);
    this.#skew = skew * 1000;
    this.#tabs = tabs(`tessera ${this.#base}`, (m) => this.#heard(m));
  }

  /** true when signed in, false when signed out, null until known. */
  get signedIn() {
    return this.#in;
  }

  /** The access token, minted first if there is none or it is about to expire; null when signed out. */
  token() {
    return this.#usable(null) ? Promise.resolve(this.#token) : this.#refresh(null);
  }

  /** `fetch`, with the access token and (for unsafe requests to Tessera) the CSRF token. */
  async fetch(input, init) {
    const request = new Request(input, init);
    const { origin } = new URL(request.url);
    if (!this.#origins.has(origin)) {
      throw new TesseraError(`not sending the access token to ${origin}: add it to tokenOrigins`);
    }
    const own = origin === this.#origin;
    const send = (token) => {
      const r = new Request(request.clone(), own ? { credentials: 'include' } : {});
      if (token) r.headers.set('Authorization', `Bearer ${token}`);
      if (own && this.#csrf && !SAFE.test(r.method)) r.headers.set('X-CSRF-Token', this.#csrf);
      return fetch(r);
    };
    const token = await this.token();
    const res = await send(token);
    if (res.status !== 401 || !token) return res;
    const fresh = await this.#refresh(token);
    return fresh ? send(fresh) : res;
  }

  /** Signs in with a password; every tab follows. */
  async signIn(user, password) {
    if (typeof user !== 'string' || typeof password !== 'string') {
      throw new TypeError('signIn(user, password) takes two strings');
    }
    const me = await this.#json(await this.#post('/auth/login', { user, password }));
    this.#session(me.session_id, me.csrf_token);
    this.#tabs.post({ t: 'in', sid: me.session_id, csrf: me.csrf_token, user: me });
    this.#enter(me, true);
    return me;
  }

  /** Who is signed in, or null. */
  async me() {
    const res = await this.#call('/auth/me');
    if (res.status === 401) return this.#out(true);
    const me = await this.#json(res);
    this.#session(me.session_id, me.csrf_token);
    this.#enter(me, false);
    return me;
  }

  /** Ends the session on the server; every tab drops its token and fires `signedout`. */
  async signOut() {
    const res = await this.#post('/auth/logout');
    if (res.status !== 401) await this.#json(res);
    this.#out(true);
  }

  /** This account's signed-in devices (`GET /auth/sessions`), newest first; `current` marks this one. */
  async devices() {
    return (await this.#account(this.#call('/auth/sessions'))).sessions;
  }

  /** Signs one of this account's devices out (this one: use `signOut()`). */
  async signOutDevice(sid) {
    await this.#account(this.#post(`/auth/sessions/${encodeURIComponent(sid)}`, null, 'DELETE'));
  }

  /** Signs out every device of this account but this one; how many. */
  async signOutOthers() {
    return (await this.#account(this.#post('/auth/sessions/others', null, 'DELETE'))).revoked;
  }

  /** Changes the password (the other devices are signed out); this session goes on with a new cookie. */
  async changePassword(current, next) {
    await this.#account(this.#post('/auth/password', { current, new: next }));
    await this.#csrfToken();
  }

  /** Stops listening to the other tabs. */
  close() {
    this.#tabs.close();
  }

  #usable(rejected) {
    return this.#token !== null && this.#token !== rejected && Date.now() < this.#stale;
  }

  /** One refresh at a time in this tab, and under the lock, across tabs. */
  #refresh(rejected) {
    if (this.#in === false) return Promise.resolve(null);
    this.#pending ??= this.#tabs
      .lock(async () => {
        // The newest token a tab minted, whose message this one may not have heard yet (the lock
        // can come first) or never will (this tab is newer): ask for it, and wait until it comes,
        // the tab that minted it leaves, or a sign-out.
        const newest = this.#usable(rejected) ? 0 : await this.#tabs.newest();
        if (newest > this.#stale && newest > Date.now()) {
          let left;
          this.#tabs.gone(newest).then(() => {
            left = 1;
            this.#wake?.();
          });
          this.#tabs.post({ t: 'ask' });
          while (!left && this.#stale < newest && this.#in !== false) await new Promise((r) => (this.#wake = r));
        }
        if (this.#usable(rejected)) return this.#token;
        return this.#in === false ? null : this.#mint();
      })
      .finally(() => {
        this.#pending = null;
      });
    return this.#pending;
  }

  async #mint() {
    if (this.#csrf === null && (await this.#csrfToken()) === null) return this.#out(true);
    const res = await this.#post('/auth/refresh');
    if (res.status === 401 || res.status === 410) return this.#out(true);
    const { access_token: token, expires_in: life } = await this.#json(res);
    if (typeof token !== 'string' || !(life > 0)) throw new TesseraError('POST /auth/refresh answered no token', res.status);
    const stale = Date.now() + life * 1000 - Math.min(this.#skew, life * 250);
    const { sid } = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    this.#have(token, stale, sid, this.#csrf);
    // Marked before the lock is let go: the next tab to hold it knows this token exists.
    await this.#tabs.mark(stale);
    this.#tell();
    return token;
  }

  #heard(m) {
    if (m?.t === 'out') this.#out(false);
    if (m?.t === 'in') {
      this.#session(m.sid, m.csrf);
      this.#enter(m.user, true);
    }
    if (m?.t === 'token' && typeof m.token === 'string') this.#have(m.token, m.stale, m.sid, m.csrf);
    if (m?.t === 'ask' && this.#token) this.#tell();
    this.#wake?.();
  }

  #tell() {
    this.#tabs.post({ t: 'token', token: this.#token, stale: this.#stale, sid: this.#sid, csrf: this.#csrf });
  }

  #have(token, stale, sid, csrf) {
    this.#session(sid, csrf);
    // A token of this session no newer than ours was heard late (or answers an ask): keep ours.
    if (this.#token && stale <= this.#stale) return;
    this.#token = token;
    this.#stale = stale;
    this.#enter(null, false);
  }

  /**
   * The session (`sid`) and its newest CSRF token. Tessera masks the CSRF token afresh in each
   * answer, and any of them is good for the whole session: only another session id means another
   * session, whose access token we lack.
   */
  #session(sid, csrf) {
    if (sid !== this.#sid) {
      this.#token = null;
      this.#tabs.mark(0);
    }
    this.#sid = sid;
    this.#csrf = csrf;
  }

  #enter(user, always) {
    const was = this.#in;
    this.#in = true;
    if (always || was !== true) this.dispatchEvent(new CustomEvent('signedin', { detail: user }));
  }

  #out(tell) {
    const was = this.#in;
    this.#token = this.#csrf = this.#sid = null;
    this.#tabs.mark(0);
    this.#in = false;
    if (tell) this.#tabs.post({ t: 'out' });
    if (was !== false) this.dispatchEvent(new Event('signedout'));
    return null;
  }

  async #csrfToken() {
    // The same session (its id is not in this answer), another cookie perhaps: the access token stays.
    const res = await this.#call('/auth/csrf');
    return (this.#csrf = res.status === 401 ? null : (await this.#json(res)).csrf_token);
  }

  /**
   * An unsafe request with the CSRF token (and `body` as JSON). A refused CSRF token (403
   * `forbidden`: one of another session) is tried once more with the current one; another 403
   * (a wrong current password) is not, lest it count twice towards a lockout.
   */
  async #post(path, body, method = 'POST', again) {
    const headers = body ? { 'Content-Type': 'application/json' } : {};
    if (this.#csrf) headers['X-CSRF-Token'] = this.#csrf;
    const res = await this.#call(path, { method, headers, body: body && JSON.stringify(body) });
    if (res.status !== 403 || again || !/:forbidden$/.test((await res.clone().json().catch(() => null))?.type)) return res;
    await this.#csrfToken();
    return this.#post(path, body, method, true);
  }

  /** The answer of an account route; a 401 there means the session is gone: every tab signs out. */
  async #account(call) {
    const res = await call;
    if (res.status === 401) this.#out(true);
    return this.#json(res);
  }

  #call(path, init = {}) {
    const headers = { Accept: 'application/json', ...init.headers };
    // A call that hangs must not hold the other tabs' lock for ever.
    return fetch(this.#base + path, { credentials: 'include', signal: AbortSignal.timeout(TIMEOUT), ...init, headers }).catch((e) => {
      // The browser tells a page no more than "failed": offline, or refused by CORS.
      throw e.name === 'TypeError'
        ? new TesseraError(`no answer from Tessera (${this.#base}): the network failed, or Tessera does not allow this page's origin (cors_origins)`)
        : e;
    });
  }

  async #json(res) {
    const body = await res.json().catch(() => null);
    if (res.ok && (body || res.status === 204)) return body;
    throw new TesseraError(body?.detail || body?.title || `Tessera answered ${res.status}`, res.status, body ?? undefined);
  }
}

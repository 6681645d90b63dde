// `TesseraClient`: the backend's calls to Tessera, with its API key. Bodies and answers are the
// API's own JSON (snake_case), so the API reference applies as is. Errors are `TesseraError`s
// carrying the problem document. Only idempotent calls are retried: a create could make two
// sessions, and a refresh token presented twice after its grace window revokes the session.

import { TesseraError } from './errors.js';

const RETRYABLE = new Set([502, 503, 504]);

/** A typed client for Tessera's backend API. */
export class TesseraClient {
  /** @param {import('../index.js').TesseraClientOptions} options */
  constructor({ url, apiKey, retries = 2, timeoutMs = 10_000, fetch = globalThis.fetch } = {}) {
    if (typeof url !== 'string') throw new TypeError('TesseraClient: `url` (Tessera\'s base URL) is required');
    if (typeof apiKey !== 'string' || apiKey === '') throw new TypeError('TesseraClient: `apiKey` is required');
    this.url = new URL(url).href.replace(/\/+$/, '');
    Object.defineProperty(this, 'apiKey', { value: apiKey, enumerable: false }); // kept out of logs
    Object.assign(this, { retries, timeoutMs, fetch });
  }

  /** Signs a user in: a new session and its tokens. Never retried. */
  createSession({ user_id, claims, data, device }) {
    return this.call('POST', '/v1/sessions', { body: { user_id, claims, data, device } });
  }

  /** Rotates a refresh token: new tokens. Never retried (a replay may revoke the session). */
  refresh(refresh_token) {
    return this.call('POST', '/v1/sessions/refresh', { body: { refresh_token } });
  }

  /** Checks an access token remotely (services verifying locally use the middleware instead). */
  verify(access_token) {
    return this.call('POST', '/v1/sessions/verify', { body: { access_token } });
  }

  /** A session (410 `TesseraError` once revoked). */
  getSession(sessionId) {
    return this.call('GET', `/v1/sessions/${encodeURIComponent(sessionId)}`, { retry: true });
  }

  /** Replaces a session's claims and/or data if it is still at `version`; answers the new version. */
  updateSession(sessionId, version, { claims, data }) {
    const headers = { 'if-match': `"${version}"` };
    return this.call('PATCH', `/v1/sessions/${encodeURIComponent(sessionId)}`, { body: { claims, data }, headers });
  }

  /** Revokes one session (logout). */
  async revokeSession(sessionId) {
    await this.call('DELETE', `/v1/sessions/${encodeURIComponent(sessionId)}`, { retry: true });
  }

  /** A user's sessions. */
  async listSessions(userId) {
    const body = await this.call('GET', `/v1/users/${encodeURIComponent(userId)}/sessions`, { retry: true });
    return body.sessions;
  }

  /** Revokes all of a user's sessions, but `except` if given (logout everywhere else); answers the revoked ids. */
  async revokeUserSessions(userId, { except } = {}) {
    const query = except === undefined ? '' : `?except=${encodeURIComponent(except)}`;
    const body = await this.call('DELETE', `/v1/users/${encodeURIComponent(userId)}/sessions${query}`, { retry: true });
    return body.revoked;
  }

  /** One call, retried on a network error or 502/503/504 only when `retry` (idempotent calls). */
  async call(method, path, { body, headers = {}, retry = false }) {
    for (let attempt = 0; ; attempt += 1) {
      const last = !retry || attempt >= this.retries;
      let res;
      try {
        res = await this.send(method, path, body, headers);
      } catch (e) {
        if (last) throw new TesseraError(`cannot reach Tessera: ${e.message}`, { cause: e });
        await pause(attempt);
        continue;
      }
      if (res.ok) return res.status === 204 ? undefined : res.json();
      if (last || !RETRYABLE.has(res.status)) throw await failure(res);
      await pause(attempt, res.headers.get('retry-after'));
    }
  }

  send(method, path, body, headers) {
    const init = {
      method,
      headers: { authorization: `Bearer ${this.apiKey}`, accept: 'application/json', ...headers },
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return this.fetch(this.url + path, init);
  }
}

/** The error for a refused call, with its problem document. */
async function failure(res) {
  const text = await res.text();
  let problem;
  try {
    problem = JSON.parse(text);
  } catch {
    problem = undefined;
  }
  if (!problem || typeof problem !== 'object' || Array.isArray(problem)) {
    problem = { type: 'about:blank', title: res.statusText || `HTTP ${res.status}`, status: res.status };
  }
  const detail = problem.detail ? `: ${problem.detail}` : '';
  return new TesseraError(`${problem.title ?? 'Tessera refused the call'}${detail} (${res.status})`, { status: res.status, problem });
}

/** Backs off: `Retry-After` when given (capped at 5 s), else 100 ms, 200 ms, … */
function pause(attempt, retryAfter) {
  const seconds = Number(retryAfter);
  const ms = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 5) * 1000 : 100 * 2 ** attempt;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

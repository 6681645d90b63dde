// Cookie sessions for an Express app that keeps Tessera's refresh token in the browser: an
// HttpOnly `__Host-` cookie holds `<session id>.<refresh token>`, and a second, script-readable
// `__Host-` cookie holds a CSRF token bound to that session (OWASP's signed double submit:
// a random nonce and an HMAC of session id and nonce under the app's secret). State-changing
// requests must echo the CSRF token in a header; it is compared in constant time and its HMAC
// checked against the session the request is for.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { sendProblem } from './problem.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const DAY = 24 * 3600;

/**
 * Cookie and CSRF helpers bound to one secret.
 * @param {import('../index.js').CookieSessionOptions} options
 */
export function cookieSession({ secret, secure = true, maxAgeSec = 30 * DAY, csrfHeader = 'x-csrf-token', sameSite = 'Strict' } = {}) {
  const key = Buffer.isBuffer(secret) ? secret : Buffer.from(String(secret ?? ''), 'utf8');
  if (key.length < 32) throw new TypeError('cookieSession: `secret` must be at least 32 bytes (e.g. crypto.randomBytes(32))');
  if (!['Strict', 'Lax'].includes(sameSite)) throw new TypeError('cookieSession: `sameSite` must be "Strict" or "Lax"');
  // `__Host-` cookies must be Secure; plain-HTTP development drops the prefix (never in production).
  const prefix = secure ? '__Host-' : '';
  const names = { refresh: `${prefix}tessera-refresh`, csrf: `${prefix}tessera-csrf` };
  const attributes = `Path=/; SameSite=${sameSite}${secure ? '; Secure' : ''}`;
  const header = csrfHeader.toLowerCase();

  const mac = (sessionId, nonce) => createHmac('sha256', key).update(`${sessionId}!${nonce}`).digest('base64url');
  const csrfToken = (sessionId) => {
    const nonce = randomBytes(16).toString('base64url');
    return `${nonce}.${mac(sessionId, nonce)}`;
  };
  const boundTo = (token, sessionId) => {
    const [nonce, tag, extra] = token.split('.');
    return extra === undefined && tag !== undefined && equal(tag, mac(sessionId, nonce));
  };
  const readRefresh = (req) => {
    const value = readCookies(req)[names.refresh];
    const dot = value?.indexOf('.') ?? -1;
    return dot > 0 ? { session_id: value.slice(0, dot), refresh_token: value.slice(dot + 1) } : null;
  };

  return {
    names,
    /** Sets both cookies for freshly issued tokens; answers the CSRF token (for the page too). */
    setSessionCookies(res, { session_id, refresh_token }) {
      const csrf = csrfToken(session_id);
      appendCookie(res, `${names.refresh}=${session_id}.${refresh_token}; ${attributes}; HttpOnly; Max-Age=${maxAgeSec}`);
      appendCookie(res, `${names.csrf}=${csrf}; ${attributes}; Max-Age=${maxAgeSec}`);
      return csrf;
    },
    /** Expires both cookies (logout). */
    clearSessionCookies(res) {
      for (const name of Object.values(names)) appendCookie(res, `${name}=; ${attributes}; HttpOnly; Max-Age=0`);
    },
    /** `{ session_id, refresh_token }` from the refresh cookie, or null. */
    readRefreshCookie: readRefresh,
    /** A fresh CSRF token bound to `sessionId`. */
    csrfToken,
    /**
     * Middleware refusing state-changing requests (403) unless the CSRF header equals the CSRF
     * cookie and is bound to every session the request names: `req.session.sid` (a verified
     * access token) and the refresh cookie's. The cookie's session id is not authenticated
     * until Tessera sees its token: binding to the access token's alone let a request name
     * another session in the cookie for a handler that acts on it (logout).
     */
    csrfProtection() {
      return (req, res, next) => {
        if (SAFE_METHODS.has(req.method)) return next();
        const sent = req.headers[header];
        const cookie = readCookies(req)[names.csrf];
        const sessions = [req.session?.sid, readRefresh(req)?.session_id].filter((sid) => sid !== undefined);
        if (typeof sent === 'string' && cookie !== undefined && sessions.length > 0 && equal(sent, cookie) && sessions.every((sid) => boundTo(sent, sid))) {
          return next();
        }
        return sendProblem(res, 403, 'csrf', 'CSRF check failed', `send the CSRF token in the ${csrfHeader} header`);
      };
    },
  };
}

/** Constant-time string comparison (lengths are not secret). */
function equal(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The request's cookies by name (the first of duplicates wins); values are not decoded. */
function readCookies(req) {
  const cookies = Object.create(null);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in cookies)) cookies[name] = part.slice(eq + 1).trim();
  }
  return cookies;
}

/** Adds a Set-Cookie header without dropping others already set. */
function appendCookie(res, cookie) {
  const prior = res.getHeader('Set-Cookie');
  const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
  res.setHeader('Set-Cookie', [...list, cookie]);
}

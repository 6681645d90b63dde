// `createTessera(options)`: the middleware. It owns one key set and one revocation feed, and
// turns each request's bearer token into `req.session` or a problem+json answer.

import { Unavailable, TokenRejected } from './errors.js';
import { RevocationFeed } from './feed.js';
import { KeySet } from './keyset.js';
import { sendProblem } from './problem.js';
import { Verifier } from './verifier.js';

const DEFAULTS = {
  audience: 'tessera',
  leewaySec: 30, // the server's own leeway
  jwksCooldownMs: 30_000,
  jwksMaxAgeMs: 30_000, // the JWKS's Cache-Control max-age: a withdrawn key stops within it
  feedIntervalMs: 1_000,
  feedStalenessMs: 5_000, // the server's `feed_staleness` default
  feedPageSize: 1000,
};

/**
 * The middleware for one Tessera deployment. Call `close()` when shutting down.
 * @param {import('../index.js').TesseraOptions} options
 */
export function createTessera(options) {
  const o = settings(options);
  const keys = new KeySet({ url: `${o.url}/.well-known/jwks.json`, cooldownMs: o.jwksCooldownMs, maxAgeMs: o.jwksMaxAgeMs, fetch: o.fetch, now: o.now, onError: o.onError });
  const feed = new RevocationFeed({ url: o.url, apiKey: o.apiKey, intervalMs: o.feedIntervalMs, stalenessMs: o.feedStalenessMs, graceMs: o.leewaySec * 1000, pageSize: o.feedPageSize, fetch: o.fetch, now: o.now, onError: o.onError });
  const verifier = new Verifier({ keys, issuer: o.issuer, audience: o.audience, leewaySec: o.leewaySec, now: o.now });
  const firstSync = feed.start();
  keys.refresh().catch(o.onError);

  /** The claims of a token that is valid and not revoked. */
  async function authenticate(token) {
    await firstSync;
    if (!feed.fresh()) throw new Unavailable('the revocation feed is not caught up', Math.ceil(o.feedIntervalMs / 1000));
    const claims = await verifier.verify(token);
    if (feed.has(claims.sid)) throw new TokenRejected('the session was revoked');
    if (feed.has(claims.jti)) throw new TokenRejected('the token was revoked');
    return claims;
  }

  /** Express middleware; `required` says what a request without a token gets. */
  function middleware(required) {
    return (req, res, next) => {
      const token = bearer(req);
      if (token === null) return missing(res, required, next);
      if (token === undefined) return refuse(res, new TokenRejected('the Authorization header is not a Bearer token'));
      authenticate(token)
        .then(
          (claims) => {
            req.session = claims;
          },
          (e) => e,
        )
        .then((e) => (e === undefined ? next() : answer(res, e, next)))
        .catch(next); // never an unhandled rejection, whatever the next handler throws
    };
  }

  return {
    requireSession: () => middleware(true),
    optionalSession: () => middleware(false),
    verify: authenticate,
    async ready() {
      await firstSync;
      if (!feed.fresh()) throw new Unavailable('the revocation feed could not be read', 1);
      if (keys.fetchedAt === undefined) await keys.refresh();
    },
    close: () => feed.close(),
  };
}

/** Validated options with defaults. */
function settings(options) {
  if (!options || typeof options.url !== 'string') throw new TypeError('createTessera: `url` (Tessera\'s base URL) is required');
  if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('createTessera: `apiKey` (a key with the verify scope, for the revocation feed) is required');
  const url = new URL(options.url).origin + new URL(options.url).pathname.replace(/\/+$/, '');
  // An option given as `undefined` (an unset environment variable) takes its default: jose
  // skips the `iss` and `aud` checks when they are undefined.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULTS, issuer: url, fetch: globalThis.fetch, now: Date.now, onError: () => {}, ...given, url };
  for (const name of ['issuer', 'audience']) {
    if (typeof o[name] !== 'string' || o[name] === '') throw new TypeError(`createTessera: \`${name}\` must be a non-empty string`);
  }
  for (const name of Object.keys(DEFAULTS).filter((k) => k !== 'audience')) {
    if (!Number.isFinite(o[name]) || o[name] < 0) throw new TypeError(`createTessera: \`${name}\` must be a number ≥ 0`);
  }
  return o;
}

/** The bearer token: a string, null when there is no Authorization header, undefined when it is not Bearer. */
function bearer(req) {
  const header = req.headers.authorization;
  if (header === undefined || header === '') return null;
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  return match ? match[1] : undefined;
}

function missing(res, required, next) {
  if (!required) return next();
  return sendProblem(res, 401, 'unauthorized', 'Authentication required', 'send an access token as `Authorization: Bearer <token>`', { 'WWW-Authenticate': 'Bearer' });
}

function refuse(res, e) {
  const challenge = `Bearer error="invalid_token", error_description="${e.message.replaceAll('"', "'")}"`;
  return sendProblem(res, 401, 'invalid-token', 'The access token is not valid', e.message, { 'WWW-Authenticate': challenge });
}

function answer(res, e, next) {
  if (e instanceof TokenRejected) return refuse(res, e);
  if (e instanceof Unavailable) {
    return sendProblem(res, 503, 'unavailable', 'Sessions cannot be checked right now', e.message, { 'Retry-After': String(e.retryAfter) });
  }
  return next(e);
}

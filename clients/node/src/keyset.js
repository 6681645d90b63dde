// The JWKS, cached: fetched once, refetched when a token names an unknown `kid` (at most once
// per cooldown, never per request) or when the cached set is older than `maxAge`. Each key's
// algorithm is pinned from the JWKS itself (`alg`, `kty`, `crv`), never from a token header.

import { importJWK } from 'jose';

import { Unavailable } from './errors.js';

/** Least time between fetches while the JWKS was never fetched. */
const NEVER_FETCHED_RETRY_MS = 1000;

/** The one algorithm each asymmetric key type may verify. Symmetric (`oct`) keys are never used. */
const ALGORITHMS = [
  { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' },
  { kty: 'EC', crv: 'P-256', alg: 'ES256' },
  { kty: 'RSA', crv: undefined, alg: 'RS256' },
];

/**
 * The algorithm a JWK may verify, or undefined for a key this kit will not use.
 * @param {Record<string, unknown>} jwk
 */
export function pinnedAlgorithm(jwk) {
  if (typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) return undefined;
  const known = ALGORITHMS.find((a) => a.kty === jwk.kty && a.crv === jwk.crv);
  if (!known || (jwk.alg !== undefined && jwk.alg !== known.alg)) return undefined;
  return known.alg;
}

/** Tessera's signing keys by `kid`. */
export class KeySet {
  /**
   * @param {{ url: string, cooldownMs: number, maxAgeMs: number, fetch: typeof fetch,
   *   now: () => number, onError: (e: Error) => void }} options
   */
  constructor({ url, cooldownMs, maxAgeMs, fetch, now, onError }) {
    Object.assign(this, { url, cooldownMs, maxAgeMs, fetch, now, onError });
    /** @type {Map<string, { key: CryptoKey | Uint8Array, alg: string }>} */
    this.keys = new Map();
    this.fetchedAt = undefined; // last successful fetch
    this.triedAt = -Infinity; // last attempt, for the cooldown
    this.inflight = undefined;
  }

  /**
   * The key named `kid` with its pinned algorithm, or undefined if Tessera does not publish it.
   * @param {string} kid
   * @throws {Unavailable} when the JWKS was never fetched and cannot be now
   */
  async get(kid) {
    if (this.inflight) await this.inflight.catch(() => {}); // a fetch under way may bring the key
    const age = this.fetchedAt === undefined ? Infinity : this.now() - this.fetchedAt;
    const unknown = !this.keys.has(kid);
    const since = this.now() - this.triedAt;
    // Never fetched: retry sooner, but still not once per request while Tessera is down.
    const mayRefetch = since >= (this.fetchedAt === undefined ? Math.min(NEVER_FETCHED_RETRY_MS, this.cooldownMs) : this.cooldownMs);
    if ((unknown || age > this.maxAgeMs) && mayRefetch) {
      await this.refresh().catch((e) => this.onError(e));
    }
    if (this.fetchedAt === undefined) throw new Unavailable('the signing keys cannot be fetched', 5);
    return this.keys.get(kid);
  }

  /** Fetches the JWKS now (one fetch at a time). */
  refresh() {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  async load() {
    this.triedAt = this.now();
    const res = await this.fetch(this.url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`JWKS fetch answered ${res.status}`);
    const body = await res.json();
    if (!body || !Array.isArray(body.keys)) throw new Error('JWKS has no "keys" array');
    const keys = new Map();
    for (const jwk of body.keys) {
      const alg = pinnedAlgorithm(jwk);
      if (alg) keys.set(jwk.kid, { key: await importJWK(jwk, alg), alg });
    }
    this.keys = keys;
    this.fetchedAt = this.now();
  }
}

// Access-token verification: the key comes from the JWKS by `kid`, the algorithm is the one
// pinned for that key, and issuer, audience, type and lifetime are checked (with a small leeway).

import { decodeProtectedHeader, errors, jwtVerify } from 'jose';

import { TokenRejected } from './errors.js';

/** Longest token accepted, in characters: real ones are well under 2 KiB. */
const MAX_TOKEN_LEN = 8192;

/** Checks Tessera access tokens. */
export class Verifier {
  /**
   * @param {{ keys: import('./keyset.js').KeySet, issuer: string, audience: string,
   *   leewaySec: number, now: () => number }} options
   */
  constructor({ keys, issuer, audience, leewaySec, now }) {
    Object.assign(this, { keys, issuer, audience, leewaySec, now });
  }

  /**
   * The claims of a valid token.
   * @param {string} token
   * @throws {TokenRejected} for a token that is not valid; `Unavailable` when keys cannot be had
   */
  async verify(token) {
    if (token.length > MAX_TOKEN_LEN) throw new TokenRejected('the token is too long');
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new TokenRejected('the token is malformed');
    }
    if (typeof header.kid !== 'string') throw new TokenRejected('the token names no key');
    const entry = await this.keys.get(header.kid);
    if (!entry) throw new TokenRejected('the token is signed by an unknown key');
    if (header.alg !== entry.alg) throw new TokenRejected('the token uses the wrong algorithm for its key');
    const { payload } = await jwtVerify(token, entry.key, {
      algorithms: [entry.alg],
      issuer: this.issuer,
      audience: this.audience,
      typ: 'at+jwt',
      clockTolerance: this.leewaySec,
      currentDate: new Date(this.now()),
      requiredClaims: ['exp', 'iat', 'sub', 'sid', 'jti'],
    }).catch(rejection);
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.jti !== 'string') {
      throw new TokenRejected('the token has a malformed claim');
    }
    // jose checks `iat` only with maxTokenAge; like the server, refuse a token from the future.
    if (payload.iat > this.now() / 1000 + this.leewaySec) throw new TokenRejected('the token is issued in the future');
    return payload;
  }
}

/** jose's errors, as what the client may be told. */
function rejection(e) {
  if (e instanceof errors.JWTExpired) throw new TokenRejected('the token has expired');
  if (e instanceof errors.JWTClaimValidationFailed) throw new TokenRejected(`the token's "${e.claim}" claim is not valid`);
  if (e instanceof errors.JWSSignatureVerificationFailed) throw new TokenRejected('the token signature is not valid');
  if (e instanceof errors.JOSEError) throw new TokenRejected('the token is not valid');
  throw e;
}

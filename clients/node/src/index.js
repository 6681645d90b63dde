// tessera-node: Express middleware and a typed backend client for Tessera sessions.
//
// Access tokens are verified here, locally, from Tessera's JWKS; logouts reach this process
// through the revocation feed, and when the feed cannot be followed requests fail closed (503).
// The public surface is this file; everything else is private.

export { createTessera } from './tessera.js';
export { TesseraClient } from './client.js';
export { TesseraError } from './errors.js';
export { cookieSession } from './cookies.js';

// Types of tessera-node. The implementation is the plain ESM under src/.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** A middleware in Express's shape (works with Express 4 and 5, and plain `http`). */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The verified claims of an access token, set as `req.session`. */
export interface SessionClaims {
  /** The user id. */
  sub: string;
  /** The session id. */
  sid: string;
  /** This token's id. */
  jti: string;
  iss: string;
  aud: string | string[];
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
  /** Application claims given at session creation, e.g. `role`. */
  [claim: string]: unknown;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by `requireSession()` / `optionalSession()` once a token is verified. */
    session?: SessionClaims;
  }
}

/** Options of `createTessera`. */
export interface TesseraOptions {
  /** Tessera's base URL, e.g. `https://auth.example.com`. */
  url: string;
  /** An API key with the `verify` scope: reads the revocation feed. */
  apiKey: string;
  /** Expected `iss`; defaults to `url` (Tessera's default issuer is its public origin). */
  issuer?: string;
  /** Expected `aud`; default `tessera`. */
  audience?: string;
  /** Clock leeway for `exp`/`nbf`/`iat`, in seconds; default 30 (the server's). */
  leewaySec?: number;
  /** Least time between two JWKS fetches for unknown `kid`s, in ms; default 30 000. */
  jwksCooldownMs?: number;
  /** Refetch the JWKS once it is this old, in ms; default 30 000 (a withdrawn key stops within it). */
  jwksMaxAgeMs?: number;
  /** How often the revocation feed is polled, in ms; default 1 000. */
  feedIntervalMs?: number;
  /** Fail closed (503) when the feed has not caught up for this long, in ms; default 5 000 (the server's `feed_staleness`). */
  feedStalenessMs?: number;
  /** Revocations read per feed page; default 1 000 (the server's maximum). */
  feedPageSize?: number;
  /** Called with background errors (JWKS or feed unreachable); secrets are never in them. */
  onError?: (error: Error) => void;
  /** The clock, in ms since the epoch; default `Date.now`. */
  now?: () => number;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
}

/** The middleware for one Tessera deployment. */
export interface Tessera {
  /** 401 problem+json unless a valid, unrevoked bearer token is sent; sets `req.session`. */
  requireSession(): Middleware;
  /** Sets `req.session` for a valid token, passes requests without one; a presented bad token still gets 401. */
  optionalSession(): Middleware;
  /** Verifies a token outside a request. Rejects with a reason for a bad token or an outage. */
  verify(token: string): Promise<SessionClaims>;
  /** Resolves once the first feed sync and JWKS fetch succeeded; rejects if they failed. */
  ready(): Promise<void>;
  /** Stops polling; pending timers are cleared. */
  close(): void;
}

/** Creates the middleware and starts following the JWKS and the revocation feed. */
export function createTessera(options: TesseraOptions): Tessera;

/** A failed backend call: `status` (0 when Tessera was unreachable) and its RFC 9457 problem. */
export class TesseraError extends Error {
  readonly status: number;
  readonly type: string;
  readonly problem: { type: string; title: string; status: number; detail?: string; [member: string]: unknown };
}

/** What a session was made from. */
export interface NewSession {
  user_id: string;
  claims?: Record<string, unknown>;
  data?: unknown;
  device?: { user_agent?: string; ip?: string; label?: string };
}

/** Tokens answered by create and refresh. */
export interface Tokens {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  session_id: string;
}

/** A session as the API shows it (times are Unix seconds). */
export interface SessionView {
  session_id: string;
  user_id: string;
  claims: Record<string, unknown>;
  data: unknown;
  device: { user_agent?: string | null; ip?: string | null; label?: string | null };
  created_at: number;
  last_seen_at: number;
  idle_expires_at: number;
  absolute_expires_at: number;
  refreshes: number;
  last_refreshed_at?: number;
  last_refreshed_from?: string;
  revoked_at?: number;
  revoke_reason?: string;
  version: number;
}

/** Options of `TesseraClient`. */
export interface TesseraClientOptions {
  url: string;
  /** An API key allowed to manage sessions (today the admin key). */
  apiKey: string;
  /** Retries of idempotent calls on network errors and 502/503/504; default 2. */
  retries?: number;
  /** Per-call timeout in ms; default 10 000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Tessera's backend API. Every method rejects with `TesseraError`. */
export class TesseraClient {
  constructor(options: TesseraClientOptions);
  createSession(session: NewSession): Promise<Tokens>;
  refresh(refreshToken: string): Promise<Tokens>;
  verify(accessToken: string): Promise<{ active: true; claims: SessionClaims }>;
  getSession(sessionId: string): Promise<SessionView>;
  updateSession(sessionId: string, version: number, change: { claims?: Record<string, unknown>; data?: unknown }): Promise<{ version: number }>;
  revokeSession(sessionId: string): Promise<void>;
  listSessions(userId: string): Promise<SessionView[]>;
  revokeUserSessions(userId: string, options?: { except?: string }): Promise<string[]>;
}

/** Options of `cookieSession`. */
export interface CookieSessionOptions {
  /** At least 32 bytes: signs CSRF tokens. */
  secret: string | Buffer;
  /** `true` (default): `__Host-` cookies, Secure. `false` only for plain-HTTP development. */
  secure?: boolean;
  /** Cookie lifetime in seconds; default 30 days (Tessera's absolute timeout). */
  maxAgeSec?: number;
  /** Header carrying the CSRF token; default `X-CSRF-Token`. */
  csrfHeader?: string;
  /** Default `Strict`. */
  sameSite?: 'Strict' | 'Lax';
}

/** Refresh-token cookie and CSRF helpers. */
export interface CookieSession {
  readonly names: { refresh: string; csrf: string };
  /** Sets the refresh and CSRF cookies; returns the CSRF token. */
  setSessionCookies(res: ServerResponse, tokens: Pick<Tokens, 'session_id' | 'refresh_token'>): string;
  clearSessionCookies(res: ServerResponse): void;
  readRefreshCookie(req: IncomingMessage): { session_id: string; refresh_token: string } | null;
  csrfToken(sessionId: string): string;
  /** 403 problem+json on POST/PUT/PATCH/DELETE… without a CSRF header matching the cookie and bound to the session. */
  csrfProtection(): Middleware;
}

export function cookieSession(options: CookieSessionOptions): CookieSession;

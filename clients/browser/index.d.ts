// Types of @tessera/browser.

/** What `/auth/login` and `/auth/me` answer about the signed-in account. */
export interface Me {
  /** The account id (`usr_…`): what access tokens carry in `sub`. */
  user_id: string;
  /** The login name. */
  login: string;
  /** The cookie session's id (`sid` in access tokens). */
  session_id: string;
  /** The session's CSRF token (the kit sends it for you). */
  csrf_token: string;
  /** When the session ends at the latest, in seconds since the epoch (from `me()` only). */
  expires_at?: number;
}

/** One signed-in device of the account, as `devices()` lists it. */
export interface Device {
  /** The session's id: what `signOutDevice` takes. */
  session_id: string;
  /** Whether this is the session of this browser. */
  current: boolean;
  /** A short description of the browser, such as `Firefox 133 on Windows`. */
  device: string;
  user_agent: string | null;
  ip: string | null;
  label: string | null;
  /** In seconds since the epoch. */
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export interface TesseraOptions {
  /**
   * Where Tessera is: the page's own origin by default. Another origin works when Tessera lists
   * this page's origin in its CORS allowlist (cookies are sent with `credentials: 'include'`).
   */
  baseUrl?: string;
  /**
   * Origins (besides the page's and Tessera's) that `fetch` may send the access token to. Any
   * other origin makes `fetch` throw rather than leak the token.
   */
  tokenOrigins?: string[];
  /**
   * How many seconds before expiry a token is replaced (at most a quarter of its lifetime).
   * Default 30.
   */
  skew?: number;
}

/** Tessera refused or failed a call. */
export class TesseraError extends Error {
  name: 'TesseraError';
  /** The HTTP status, when Tessera answered (none: the network failed, or CORS refused this origin). */
  status?: number;
  /** Tessera's RFC 9457 problem document, when it sent one (`detail` says what to do). */
  problem?: { type?: string; title?: string; status?: number; detail?: string; [key: string]: unknown };
}

export interface TesseraEventMap {
  /** This tab learned of a sign-in (here, in another tab, or from `me()`); `detail` is the account when known. */
  signedin: CustomEvent<Me | null>;
  /** This tab learned it is signed out: a sign-out in any tab, or a session ended on the server. */
  signedout: Event;
}

/**
 * The client of one Tessera server for a single-page app. The access token stays in memory;
 * all tabs of the origin share one refresh per expiry and sign out together.
 */
export class Tessera extends EventTarget {
  /** @throws {TypeError} a `baseUrl` that is no http(s) URL, a negative `skew`, a bad origin */
  constructor(options?: TesseraOptions);

  /** true when signed in, false when signed out, null until this tab knows. */
  readonly signedIn: boolean | null;

  /**
   * The access token, minted from the cookie session when there is none or it is about to
   * expire; null when signed out.
   * @throws {TesseraError} Tessera is unreachable or failed (not when merely signed out)
   */
  token(): Promise<string | null>;

  /**
   * `fetch` with `Authorization: Bearer` (and, for unsafe methods to Tessera's origin,
   * `X-CSRF-Token`). After a 401 it gets a fresh token and tries once more; a second 401 is
   * returned as it is. Signed out, the request goes without a token.
   * @throws {TesseraError} the URL's origin is neither the page's, Tessera's, nor in `tokenOrigins`;
   *   or Tessera failed to mint a token (as `token()`)
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;

  /**
   * Signs in with a password (`POST /auth/login`); every tab fires `signedin`.
   * @throws {TesseraError} status 401 for a wrong name or password, 429 when locked out
   */
  signIn(user: string, password: string): Promise<Me>;

  /** Who is signed in, or null (then `signedout` fires if this tab thought otherwise). */
  me(): Promise<Me | null>;

  /** Ends the session (`POST /auth/logout`); every tab drops its token and fires `signedout`. */
  signOut(): Promise<void>;

  /**
   * This account's signed-in devices (`GET /auth/sessions`), newest first.
   * @throws {TesseraError} status 401 when signed out (every tab then fires `signedout`)
   */
  devices(): Promise<Device[]>;

  /**
   * Signs one of this account's devices out (`DELETE /auth/sessions/{sid}`). For this one, use
   * `signOut()`.
   * @throws {TesseraError} status 404 for a session that is not this account's
   */
  signOutDevice(sessionId: string): Promise<void>;

  /** Signs every other device of this account out (`DELETE /auth/sessions/others`); how many. */
  signOutOthers(): Promise<number>;

  /**
   * Changes the password (`POST /auth/password`). Every other device is signed out; this
   * session goes on, with a new cookie.
   * @throws {TesseraError} status 403 for a wrong current password, 400 for a new one too
   *   short, 429 when locked out
   */
  changePassword(current: string, next: string): Promise<void>;

  /** Stops listening to the other tabs. */
  close(): void;

  addEventListener<K extends keyof TesseraEventMap>(
    type: K,
    listener: (event: TesseraEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof TesseraEventMap>(
    type: K,
    listener: (event: TesseraEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

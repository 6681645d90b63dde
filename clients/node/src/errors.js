// Errors: `TesseraError` is public (a failed backend call); the others stay inside the kit and
// become problem+json answers at the edge (`problem.js`).

/** A backend call to Tessera failed: `status` and the RFC 9457 `problem` say why. */
export class TesseraError extends Error {
  /**
   * @param {string} message
   * @param {{ status?: number, problem?: object, cause?: unknown }} details
   */
  constructor(message, { status, problem, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TesseraError';
    this.status = status ?? 0;
    this.problem = problem ?? { type: 'about:blank', title: message, status: this.status };
    this.type = this.problem.type;
  }
}

/** A presented access token was refused: answered 401 with `WWW-Authenticate: Bearer`. */
export class TokenRejected extends Error {
  /** @param {string} reason what was wrong, safe to show the client */
  constructor(reason) {
    super(reason);
    this.name = 'TokenRejected';
  }
}

/** Tokens cannot be judged right now (keys or feed out of reach): answered 503. */
export class Unavailable extends Error {
  /**
   * @param {string} reason
   * @param {number} retryAfter seconds
   */
  constructor(reason, retryAfter) {
    super(reason);
    this.name = 'Unavailable';
    this.retryAfter = retryAfter;
  }
}

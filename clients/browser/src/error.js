// The one error the kit throws: Tessera refused or failed a call, with the RFC 9457 problem
// document it answered (its `detail` says what to do).

export class TesseraError extends Error {
  /**
   * @param {string} message what failed
   * @param {number} [status] the HTTP status, if Tessera answered
   * @param {object} [problem] the problem document, if it sent one
   */
  constructor(message, status, problem) {
    super(message);
    this.name = 'TesseraError';
    this.status = status;
    this.problem = problem;
  }
}

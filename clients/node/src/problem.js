// RFC 9457 problem documents, the one way this kit answers an error.

const PREFIX = 'urn:tessera:problem:';

/**
 * Sends `application/problem+json` with `status`.
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} type short name, prefixed with `urn:tessera:problem:`
 * @param {string} title
 * @param {string} detail
 * @param {Record<string, string>} [headers]
 */
export function sendProblem(res, status, type, title, detail, headers = {}) {
  const body = JSON.stringify({ type: PREFIX + type, title, status, detail });
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

// A per-session rate limit: a token bucket keyed by the session id of the verified token, so
// one device cannot exhaust another's budget. In memory, so per process.

/** Middleware allowing `perMinute` requests per session (after `requireSession()`). */
export function perSession(perMinute) {
  const buckets = new Map(); // sid → { tokens, at }
  const refillPerMs = perMinute / 60_000;
  return (req, res, next) => {
    const now = Date.now();
    const bucket = buckets.get(req.session.sid) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.at) * refillPerMs);
    bucket.at = now;
    buckets.set(req.session.sid, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return next();
    }
    const retryAfter = Math.ceil((1 - bucket.tokens) / refillPerMs / 1000);
    res.set('Retry-After', String(retryAfter));
    res.status(429).type('application/problem+json').json({
      type: 'urn:example:problem:rate-limited', title: 'Too many requests', status: 429,
      detail: `this session may make ${perMinute} requests a minute`,
    });
  };
}

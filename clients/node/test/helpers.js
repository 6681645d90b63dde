// Shared by the tests: an Express app behind the middleware on a free port, and a fetch that
// counts what it fetched.

import express from 'express';

/** Serves `app` on a loopback port; answers its base URL and a `close()`. */
export function listen(app) {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

/** An app with `/me` (required session) and `/maybe` (optional session) behind `tessera`. */
export function protectedApp(tessera) {
  const app = express();
  app.get('/me', tessera.requireSession(), (req, res) => res.json(req.session));
  app.get('/maybe', tessera.optionalSession(), (req, res) => res.json({ session: req.session ?? null }));
  return app;
}

/** The global fetch, counting calls per URL path. */
export function countingFetch() {
  const counts = new Map();
  const fn = (url, init) => {
    const path = new URL(url).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    return fetch(url, init);
  };
  fn.count = (path) => counts.get(path) ?? 0;
  return fn;
}

/** GET `url` with an optional bearer token. */
export function get(url, token, headers = {}) {
  return fetch(url, { headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers } });
}

/** Polls `check` until it answers truthy (each try after `everyMs`); fails after `timeoutMs`. */
export async function eventually(check, what, timeoutMs = 15_000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Creates a session with the admin key; answers the token response. */
export async function createSession(server, user = 'alice', claims = { role: 'admin' }) {
  const res = await fetch(`${server.url}/v1/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: user, claims }),
  });
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Asserts a 401 problem+json with a Bearer challenge; answers the problem. */
export async function expect401(assert, res) {
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
  const problem = await res.json();
  assert.equal(problem.status, 401);
  assert.match(problem.type, /^urn:tessera:problem:/);
  assert.equal(typeof problem.title, 'string');
  assert.equal(typeof problem.detail, 'string');
  return problem;
}

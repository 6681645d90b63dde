// The cookie + CSRF helpers in an Express app on a real Tessera session.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import express from 'express';

import { TesseraClient, cookieSession } from '../src/index.js';
import { listen } from './helpers.js';
import { TesseraServer } from './tessera-server.js';

let server;
let app;
const cookies = cookieSession({ secret: randomBytes(32) });

before(async () => {
  server = await new TesseraServer().start();
  const client = new TesseraClient({ url: server.url, apiKey: server.adminKey });
  const web = express();
  web.post('/login', async (req, res) => {
    const tokens = await client.createSession({ user_id: 'alice' });
    res.json({ csrf_token: cookies.setSessionCookies(res, tokens) });
  });
  // A stand-in for the verifying middleware: the session of the request's access token.
  web.use((req, _res, next) => {
    const sid = req.headers['x-test-session'];
    if (typeof sid === 'string') req.session = { sid };
    next();
  });
  web.use(cookies.csrfProtection());
  web.get('/read', (req, res) => res.json({ ok: true }));
  web.post('/write', (req, res) => res.json({ refresh: cookies.readRefreshCookie(req) }));
  web.post('/logout', (req, res) => {
    cookies.clearSessionCookies(res);
    res.status(204).end();
  });
  app = await listen(web);
});

after(async () => {
  await app.close();
  await server.destroy();
});

/** Signs in; answers the Set-Cookie lines, a Cookie header and the CSRF token. */
async function login() {
  const res = await fetch(`${app.url}/login`, { method: 'POST' });
  const set = res.headers.getSetCookie();
  const jar = set.map((c) => c.split(';')[0]).join('; ');
  return { set, jar, csrf: (await res.json()).csrf_token };
}

const post = (path, headers) => fetch(`${app.url}${path}`, { method: 'POST', headers });

test('the cookies are __Host-, Secure, SameSite=Strict; the refresh one is HttpOnly', async () => {
  const { set, csrf } = await login();
  const refresh = set.find((c) => c.startsWith('__Host-tessera-refresh='));
  const csrfCookie = set.find((c) => c.startsWith('__Host-tessera-csrf='));
  for (const c of [refresh, csrfCookie]) {
    assert.match(c, /; Path=\//);
    assert.match(c, /; Secure/);
    assert.match(c, /; SameSite=Strict/);
    assert.doesNotMatch(c, /Domain=/i);
  }
  assert.match(refresh, /; HttpOnly/);
  assert.doesNotMatch(csrfCookie, /HttpOnly/, 'the page reads the CSRF cookie');
  assert.ok(csrfCookie.startsWith(`__Host-tessera-csrf=${csrf};`));
});

test('a state-changing request needs the CSRF header equal to the cookie', async () => {
  const { jar, csrf } = await login();
  assert.equal((await fetch(`${app.url}/read`, { headers: { cookie: jar } })).status, 200, 'GET needs no token');
  for (const headers of [{ cookie: jar }, { cookie: jar, 'x-csrf-token': 'guessed' }, { cookie: jar, 'x-csrf-token': `${csrf}x` }, { 'x-csrf-token': csrf }]) {
    const res = await post('/write', headers);
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal((await res.json()).status, 403);
  }
  const ok = await post('/write', { cookie: jar, 'x-csrf-token': csrf });
  assert.equal(ok.status, 200);
  const { refresh } = await ok.json();
  assert.match(refresh.refresh_token, /^tsr_/);
});

test('a CSRF token is bound to its session', async () => {
  const alice = await login();
  const other = await login();
  // Another session's token and cookie, sent with this session's refresh cookie.
  const refreshOnly = alice.jar.split('; ').filter((c) => c.startsWith('__Host-tessera-refresh=')).join('; ');
  const mixed = `${refreshOnly}; __Host-tessera-csrf=${other.csrf}`;
  assert.equal((await post('/write', { cookie: mixed, 'x-csrf-token': other.csrf })).status, 403);
  // A token minted for this session with the same secret is accepted.
  const sid = cookies.readRefreshCookie({ headers: { cookie: alice.jar } }).session_id;
  const minted = cookies.csrfToken(sid);
  assert.equal((await post('/write', { cookie: `${refreshOnly}; __Host-tessera-csrf=${minted}`, 'x-csrf-token': minted })).status, 200);
  // And one signed with another secret is not.
  const foreign = cookieSession({ secret: randomBytes(32) }).csrfToken(sid);
  assert.equal((await post('/write', { cookie: `${refreshOnly}; __Host-tessera-csrf=${foreign}`, 'x-csrf-token': foreign })).status, 403);
});

test('logout clears both cookies', async () => {
  const { jar, csrf } = await login();
  const res = await post('/logout', { cookie: jar, 'x-csrf-token': csrf });
  assert.equal(res.status, 204);
  const set = res.headers.getSetCookie();
  assert.equal(set.length, 2);
  for (const c of set) assert.match(c, /^__Host-tessera-(refresh|csrf)=; .*Max-Age=0/);
});

test('bad options are a clear error', () => {
  assert.throws(() => cookieSession({ secret: 'short' }), /32 bytes/);
  assert.throws(() => cookieSession({}), /32 bytes/);
  assert.throws(() => cookieSession({ secret: randomBytes(32), sameSite: 'None' }), /sameSite/);
  assert.equal(cookieSession({ secret: randomBytes(32), secure: false }).names.refresh, 'tessera-refresh');
});

test('a CSRF token must be bound to every session the request names', async () => {
  const attacker = await login();
  const victim = await login();
  const sidOf = (who) => cookies.readRefreshCookie({ headers: { cookie: who.jar } }).session_id;
  // The attacker's access token and CSRF token, with a refresh cookie naming the victim's
  // session, for a handler that would act on the cookie's session (a logout).
  const forged = `__Host-tessera-refresh=${sidOf(victim)}.x; __Host-tessera-csrf=${attacker.csrf}`;
  const refused = await post('/write', { cookie: forged, 'x-csrf-token': attacker.csrf, 'x-test-session': sidOf(attacker) });
  assert.equal(refused.status, 403);
  const own = await post('/write', { cookie: attacker.jar, 'x-csrf-token': attacker.csrf, 'x-test-session': sidOf(attacker) });
  assert.equal(own.status, 200);
});

// The kit on an app origin other than Tessera's, in Chromium: the app on https://127.0.0.1:A
// (listed in Tessera's cors_origins), Tessera on https://127.0.0.1:T, another app on
// https://127.0.0.1:B that is not listed. Two ports of one host are two origins of one site, so
// Tessera's SameSite=Lax cookie goes along, as it would between app.example and auth.example.
// No route interception here (playwright would answer the preflights itself): real servers,
// and what the browser sends to Tessera watched over the DevTools protocol.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { launchChromium } from '../../../tests/support/tessera.mjs';

import { listenApp, watch } from './origin.mjs';
import { PASSWORD, startTessera } from './server.mjs';

const artifacts = new URL('../artifacts/', import.meta.url).pathname;
const bin = process.env.TESSERA_BIN;
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const USERS = ['gil', 'hal', 'ida'];
const NEW_PASSWORD = 'staple battery horse correct';

let tessera;
let browser;
/** The app on an origin Tessera grants, and one on an origin it does not. */
let granted;
let other;

before(async () => {
  assert.ok(bin && existsSync(bin), `TESSERA_BIN (${bin}) names no file: set it to a tessera binary`);
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: run apt-get install -y chromium`);
  mkdirSync(artifacts, { recursive: true });
  granted = await listenApp();
  other = await listenApp();
  tessera = await startTessera(bin, USERS, { TESSERA_CORS_ORIGINS: granted.origin });
  granted.serve(tessera);
  other.serve(tessera);
  browser = await launchChromium(chromium, chromiumPath);
});

after(async () => {
  await browser?.close();
  await tessera?.stop();
  await granted?.close();
  await other?.close();
});

/**
 * Runs `body(open)`, where `open(app, context?)` opens the app's page in `context` or in a new
 * browser profile (another device) and resolves to `{ page, seen, context }`, `seen` being what
 * that page sent to Tessera. Keeps traces and screenshots if it fails.
 */
async function withBrowser(name, body) {
  const contexts = [];
  const pages = [];
  const open = async (app, context) => {
    if (!context) {
      context = await browser.newContext({ ignoreHTTPSErrors: true });
      await context.tracing.start({ screenshots: true, snapshots: true });
      contexts.push(context);
    }
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`[${name} ${app.origin}] ${e}`));
    const seen = await watch(context, page, tessera.base);
    await page.goto(app.url);
    await page.waitForFunction(() => window.ready);
    pages.push(page);
    return { page, seen, context };
  };
  try {
    await body(open);
    for (const context of contexts) await context.tracing.stop();
  } catch (e) {
    for (const [i, context] of contexts.entries()) {
      await context.tracing.stop({ path: join(artifacts, `${name}-${i}.trace.zip`) }).catch(() => {});
    }
    for (const [i, page] of pages.entries()) {
      await page.screenshot({ path: join(artifacts, `${name}-page${i}.png`) }).catch(() => {});
    }
    throw e;
  } finally {
    for (const context of contexts) await context.close();
  }
}

/** The requests `seen` sent as `method path`, once each has been answered or has failed. */
async function sent(seen, method, path, count = 1) {
  const match = () => seen.filter((e) => e.method === method && e.path === path);
  for (let waited = 0; waited < 5000; waited += 50) {
    const found = match();
    if (found.length >= count && found.every((e) => e.status !== undefined || e.failed)) break;
    await new Promise((done) => setTimeout(done, 50));
  }
  return match();
}

const signIn = (page, user, password = PASSWORD) => page.evaluate(([u, p]) => tessera.signIn(u, p), [user, password]);
/** What a kit call rejected with, or `{ resolved }`. */
const outcome = (page, call, ...args) => page.evaluate(([c, a]) => tessera[c](...a).then(
  (resolved) => ({ resolved }),
  (e) => ({ name: e.name, message: e.message, status: e.status ?? null, problem: e.problem ?? null })), [call, args]);
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
const verify = (token) => tessera.verifier.post('/v1/sessions/verify', { data: { access_token: token } });

test('on a granted origin: sign in, me, one refresh, an authorized fetch and sign out, all cross-origin', async () => {
  await withBrowser('cross-origin', async (open) => {
    const { page, seen } = await open(granted);
    assert.notEqual(granted.origin, tessera.base, 'the app and Tessera are two origins');
    assert.equal(await page.evaluate(() => isSecureContext && !!navigator.locks), true);
    assert.equal(await page.evaluate(() => tessera.me()), null, 'signed out, and the page may read Tessera saying so');

    const me = await signIn(page, 'gil');
    assert.equal(me.user_id, tessera.ids.gil);
    const [preflight] = await sent(seen, 'OPTIONS', '/auth/login');
    assert.ok(preflight, 'Chromium sent a CORS preflight for the JSON sign-in');
    assert.equal(preflight.headers.origin, granted.origin);
    assert.equal(preflight.headers['access-control-request-method'], 'POST');
    assert.match(preflight.headers['access-control-request-headers'], /content-type/);
    assert.equal(preflight.status, 204);
    assert.equal(preflight.responseHeaders['access-control-allow-origin'], granted.origin);
    assert.equal(preflight.responseHeaders['access-control-allow-credentials'], 'true');
    assert.match(preflight.responseHeaders['access-control-allow-methods'], /POST/);
    const [login] = await sent(seen, 'POST', '/auth/login');
    assert.equal(login.status, 200);
    assert.equal(login.headers['sec-fetch-site'], 'same-site');
    assert.equal(login.responseHeaders['access-control-allow-origin'], granted.origin);
    assert.equal(login.responseHeaders['access-control-allow-credentials'], 'true');
    assert.match(login.responseHeaders['access-control-expose-headers'], /ratelimit-remaining/);
    assert.match(login.responseHeaders['set-cookie'], /^__Host-/, 'Tessera set its session cookie');

    const again = await page.evaluate(() => tessera.me());
    assert.equal(again.session_id, me.session_id, 'me() finds the session: the cookie went cross-origin');
    const [, meCall] = await sent(seen, 'GET', '/auth/me', 2);
    assert.match(meCall.headers.cookie, /__Host-/, 'credentials are included');
    assert.equal(meCall.status, 200);

    const token = await page.evaluate(() => tessera.token());
    assert.equal(claims(token).sub, tessera.ids.gil);
    assert.equal(claims(token).sid, me.session_id);
    const refreshes = await sent(seen, 'POST', '/auth/refresh');
    assert.equal(refreshes.length, 1, 'one refresh');
    assert.equal(refreshes[0].status, 200);
    assert.equal(refreshes[0].headers['x-csrf-token'], again.csrf_token, 'the refresh carries the CSRF token');
    assert.match(refreshes[0].headers.cookie, /__Host-/);
    const [refreshPreflight] = await sent(seen, 'OPTIONS', '/auth/refresh');
    assert.match(refreshPreflight.headers['access-control-request-headers'], /x-csrf-token/);
    assert.equal(refreshPreflight.status, 204);
    assert.match(refreshPreflight.responseHeaders['access-control-allow-headers'], /x-csrf-token/);

    const api = await page.evaluate(async () => {
      const r = await tessera.fetch('/api/orders', { method: 'POST', body: '{}' });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(api.status, 200, "the app's API accepted the token");
    assert.equal(api.body.sub, tessera.ids.gil, 'Tessera verified it');
    assert.ok(granted.log.some((e) => e.path === '/api/orders' && e.authorization === `Bearer ${token}`));
    assert.equal((await sent(seen, 'POST', '/auth/refresh')).length, 1, 'the token was reused');

    await page.evaluate(() => tessera.signOut());
    const [logout] = await sent(seen, 'POST', '/auth/logout');
    assert.equal(logout.status, 204);
    assert.equal(logout.headers['x-csrf-token'], again.csrf_token, 'the sign-out carries the CSRF token');
    assert.equal(await page.evaluate(() => tessera.signedIn), false);
    assert.deepEqual(await page.evaluate(() => events), ['signedout', 'signedin', 'signedout'],
      'the first me() told of no session, then the sign-in, then the sign-out');
    assert.equal(await page.evaluate(() => tessera.me()), null, 'the session is over');
    assert.equal((await verify(token)).status(), 401, 'and the token with it');
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, '']);
  });
});

test('on a granted origin: list devices, sign one out, sign the others out, change the password', async () => {
  await withBrowser('account', async (open) => {
    const [a, b, c] = [await open(granted), await open(granted), await open(granted)];
    const [meA, meB, meC] = [await signIn(a.page, 'hal'), await signIn(b.page, 'hal'), await signIn(c.page, 'hal')];

    const devices = await a.page.evaluate(() => tessera.devices());
    assert.deepEqual(devices.map((d) => d.session_id).sort(), [meA.session_id, meB.session_id, meC.session_id].sort());
    assert.deepEqual(devices.filter((d) => d.current).map((d) => d.session_id), [meA.session_id], 'this device is marked current');
    assert.equal(typeof devices[0].device, 'string');
    assert.equal(typeof devices[0].last_seen_at, 'number');

    assert.deepEqual(await outcome(a.page, 'signOutDevice', meB.session_id), { resolved: undefined });
    const [del] = await sent(a.seen, 'DELETE', `/auth/sessions/${meB.session_id}`);
    assert.equal(del.status, 204);
    assert.ok(del.headers['x-csrf-token'], 'a DELETE carries the CSRF token');
    const [delPreflight] = await sent(a.seen, 'OPTIONS', `/auth/sessions/${meB.session_id}`);
    assert.equal(delPreflight.headers['access-control-request-method'], 'DELETE');
    assert.equal(delPreflight.status, 204);
    assert.equal(await b.page.evaluate(() => tessera.me()), null, 'that device is signed out');
    assert.equal(await c.page.evaluate(() => tessera.me()).then((m) => m?.session_id), meC.session_id, 'the others are not');
    const unknown = await outcome(a.page, 'signOutDevice', 'no-such-session');
    assert.equal(unknown.name, 'TesseraError');
    assert.equal(unknown.status, 404);

    assert.deepEqual(await outcome(a.page, 'signOutOthers'), { resolved: 1 });
    assert.equal(await c.page.evaluate(() => tessera.me()), null, 'every other device is signed out');
    assert.deepEqual((await a.page.evaluate(() => tessera.devices())).map((d) => d.session_id), [meA.session_id]);
    assert.equal(await a.page.evaluate(() => tessera.signedIn), true, 'this one is not');

    await signIn(b.page, 'hal'); // a device that the password change will sign out
    const wrong = await outcome(a.page, 'changePassword', 'not the password', NEW_PASSWORD);
    assert.equal(wrong.name, 'TesseraError');
    assert.equal(wrong.status, 403);
    assert.match(wrong.problem.type, /invalid-credentials$/);
    assert.equal((await sent(a.seen, 'POST', '/auth/password')).length, 1, 'a wrong password is not sent twice');
    assert.equal(await a.page.evaluate(() => tessera.signedIn), true, 'a wrong password signs nobody out');

    // Taken just before: the change takes far less than the token's 7.5 s of use (TTL 10 s, skew).
    const before = await a.page.evaluate(() => tessera.token());
    const minted = (await sent(a.seen, 'POST', '/auth/refresh')).length;
    assert.deepEqual(await outcome(a.page, 'changePassword', PASSWORD, NEW_PASSWORD), { resolved: undefined });
    assert.equal(await a.page.evaluate(() => tessera.token()), before, 'the new cookie is of the same session: the token stays');
    assert.equal((await sent(a.seen, 'POST', '/auth/refresh')).length, minted, 'no refresh for it');
    const changes = await sent(a.seen, 'POST', '/auth/password', 2);
    assert.equal(changes.length, 2);
    assert.equal(changes[1].status, 204);
    assert.match(changes[1].responseHeaders['set-cookie'], /^__Host-/, 'a new session cookie');
    assert.equal((await a.page.evaluate(() => tessera.me())).session_id, meA.session_id, 'this session goes on');
    const token = await a.page.evaluate(() => tessera.token());
    assert.equal((await verify(token)).status(), 200, 'and mints tokens');
    assert.deepEqual(await a.page.evaluate(() => events), ['signedin']);
    assert.equal(await b.page.evaluate(() => tessera.me()), null, 'the other device is signed out');
    assert.equal((await outcome(b.page, 'signIn', 'hal', PASSWORD)).status, 401, 'the old password is refused');
    assert.equal((await signIn(b.page, 'hal', NEW_PASSWORD)).user_id, tessera.ids.hal, 'the new one works');
  });
});

test('a page on an origin Tessera does not grant can neither sign in nor refresh, nor read a thing', async () => {
  await withBrowser('not-granted', async (open) => {
    const good = await open(granted);
    const me = await signIn(good.page, 'ida');
    const token = await good.page.evaluate(() => tessera.token());
    // The same browser profile: Tessera's cookie is there, and goes along to Tessera (same site).
    const evil = await open(other, good.context);
    assert.notEqual(other.origin, granted.origin);

    const cors = /^no answer from Tessera \(https:\/\/127\.0\.0\.1:\d+\): .*cors_origins/;
    const signingIn = await outcome(evil.page, 'signIn', 'ida', PASSWORD);
    assert.equal(signingIn.name, 'TesseraError');
    assert.match(signingIn.message, cors, 'the error names the likely cause');
    assert.equal(signingIn.status, null);
    const [preflight] = await sent(evil.seen, 'OPTIONS', '/auth/login');
    assert.equal(preflight.status, 403, 'Tessera refused the preflight');
    assert.equal(preflight.responseHeaders['access-control-allow-origin'], undefined);
    assert.match(preflight.responseHeaders['content-type'], /problem\+json/);
    assert.ok((await sent(evil.seen, 'POST', '/auth/login')).every((e) => e.status === undefined),
      'so the sign-in itself was never sent');

    for (const call of ['me', 'token']) {
      const refused = await outcome(evil.page, call);
      assert.equal(refused.name, 'TesseraError', `${call}() fails`);
      assert.match(refused.message, cors);
    }
    const [meCall] = await sent(evil.seen, 'GET', '/auth/me');
    assert.equal(meCall.responseHeaders['access-control-allow-origin'], undefined,
      'Tessera answered the simple GET without granting it, so the page could not read it');
    assert.equal((await sent(evil.seen, 'POST', '/auth/refresh')).length, 0, 'no refresh was attempted');

    // Even with the session's CSRF token (were it stolen), a script of that origin gets nowhere:
    const stolen = me.csrf_token;
    const refresh = await evil.page.evaluate(([base, csrf]) => fetch(`${base}/auth/refresh`, {
      method: 'POST', credentials: 'include', headers: { 'X-CSRF-Token': csrf },
    }).then((r) => `read ${r.status}`, (e) => e.name), [tessera.base, stolen]);
    assert.equal(refresh, 'TypeError', 'the preflight is refused');
    assert.ok((await sent(evil.seen, 'POST', '/auth/refresh')).every((e) => e.status === undefined));
    // and a form-like POST, which needs no preflight, is refused by the session layer:
    await evil.page.evaluate(([base, csrf]) => fetch(`${base}/auth/logout`, {
      method: 'POST', mode: 'no-cors', credentials: 'include', body: new URLSearchParams({ _csrf: csrf }),
    }), [tessera.base, stolen]);
    const [logout] = await sent(evil.seen, 'POST', '/auth/logout');
    assert.match(logout.headers.cookie, /__Host-/, 'the cookie went along (same site)');
    assert.equal(logout.status, 403, 'Tessera refused a write from an origin it does not grant');

    assert.deepEqual(await evil.page.evaluate(() => [tessera.signedIn, events]), [null, []], 'the page learned nothing');
    assert.equal((await good.page.evaluate(() => tessera.me())).session_id, me.session_id, 'the session lives on');
    assert.equal((await verify(token)).status(), 200);
  });
});

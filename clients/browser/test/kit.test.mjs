// The kit in a real browser (Debian's Chromium, driven by playwright-core; no browser download)
// against a real `tessera serve` over TLS. Requests are counted as the browser sends them, by
// route interception. On failure each test leaves a trace and screenshots in artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { launchChromium } from '../../../tests/support/tessera.mjs';

import { serveApp } from './app.mjs';
import { PASSWORD, startTessera } from './server.mjs';

const artifacts = new URL('../artifacts/', import.meta.url).pathname;
const bin = process.env.TESSERA_BIN;
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const USERS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'];

let tessera;
let browser;

before(async () => {
  assert.ok(bin && existsSync(bin), `TESSERA_BIN (${bin}) names no file: set it to a tessera binary`);
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: run apt-get install -y chromium`);
  mkdirSync(artifacts, { recursive: true });
  tessera = await startTessera(bin, USERS);
  browser = await launchChromium(chromium, chromiumPath);
});

after(async () => {
  await browser?.close();
  await tessera?.stop();
});

/** Runs `body` with `n` tabs of the app in one browser profile; keeps a trace if it fails. */
async function withTabs(name, n, body, init) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  if (init) await context.addInitScript(init);
  await context.tracing.start({ screenshots: true, snapshots: true });
  const app = await serveApp(context, tessera);
  const pages = [];
  try {
    for (let i = 0; i < n; i += 1) {
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[${name} tab ${i}] ${e}`));
      await page.goto(app.url);
      await page.waitForFunction(() => window.ready);
      pages.push(page);
    }
    await body(pages, app.log);
    await context.tracing.stop();
  } catch (e) {
    await context.tracing.stop({ path: join(artifacts, `${name}.trace.zip`) });
    for (const [i, page] of pages.entries()) {
      await page.screenshot({ path: join(artifacts, `${name}-tab${i}.png`) }).catch(() => {});
    }
    throw e;
  } finally {
    await context.close();
  }
}

const refreshes = (log) => log.filter((e) => e.path === '/auth/refresh').length;
const to = (log, path) => log.filter((e) => e.path === path);
const signIn = (page, user, password = PASSWORD) => page.evaluate(([u, p]) => tessera.signIn(u, p), [user, password]);
const tokens = (pages) => Promise.all(pages.map((p) => p.evaluate(() => tessera.token())));
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

async function waitPastExpiry(page, jwt) {
  const exp = claims(jwt).exp;
  await page.waitForFunction((e) => Date.now() > e * 1000, exp, { timeout: 30_000, polling: 250 });
}

test('three tabs share one refresh per expiry', async () => {
  await withTabs('one-refresh', 3, async (pages, log) => {
    for (const page of pages) {
      assert.equal(await page.evaluate(() => isSecureContext && !!navigator.locks && !!window.BroadcastChannel), true,
        'the page has Web Locks and BroadcastChannel (a secure context), not the single-tab fallback');
    }
    const me = await signIn(pages[0], 'ann');
    assert.equal(me.user_id, tessera.ids.ann);
    assert.equal(refreshes(log), 0, 'signing in mints no token');

    const first = await tokens(pages);
    assert.equal(refreshes(log), 1, 'three tabs asking at once make one refresh');
    assert.ok(first.every((t) => t === first[0]), 'and all three hold the same token');
    assert.equal(claims(first[0]).sub, tessera.ids.ann);
    const again = await tokens(pages);
    assert.deepEqual(again, first, 'a fresh token is reused');
    assert.equal(refreshes(log), 1);

    await waitPastExpiry(pages[0], first[0]);
    const second = await tokens(pages);
    assert.equal(refreshes(log), 2, 'one more refresh for the next expiry, not three');
    assert.ok(second.every((t) => t === second[0]));
    assert.notEqual(second[0], first[0]);
    assert.ok(claims(second[0]).exp > claims(first[0]).exp);
    for (const r of to(log, '/auth/refresh')) {
      assert.equal(r.csrf, me.csrf_token, 'each refresh carries the session\'s CSRF token');
    }

    // A tab opened after the token was minted heard none of it: it asks the others.
    const late = await pages[0].context().newPage();
    await late.goto(pages[0].url());
    await late.waitForFunction(() => window.ready);
    assert.equal(await late.evaluate(() => tessera.token()), second[0], 'a new tab gets the live token');
    assert.equal(refreshes(log), 2, 'without a refresh of its own');
    await late.close();
    for (const page of pages) {
      assert.deepEqual(await page.evaluate(() => events), ['signedin'], 'every tab learned of the sign-in once');
      assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, ''],
        'the token lives in memory only: no storage, no script-readable cookie');
    }
  });
});

test('the fetch wrapper signs requests, sends the CSRF token, and retries once after a 401', async () => {
  await withTabs('fetch', 1, async ([page], log) => {
    const me = await signIn(page, 'ben');
    const flaky = await page.evaluate(async () => {
      const r = await tessera.fetch('/__api/flaky', { method: 'POST', body: 'payload' });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(flaky.status, 200, 'the retry succeeded');
    assert.equal(flaky.body.sub, tessera.ids.ben, 'Tessera verified the retried token');
    const [one, two] = to(log, '/__api/flaky');
    assert.equal(to(log, '/__api/flaky').length, 2, 'exactly one retry');
    assert.match(one.authorization, /^Bearer ey/);
    assert.match(two.authorization, /^Bearer ey/);
    assert.notEqual(two.authorization, one.authorization, 'the retry carries a fresh token');
    assert.equal(refreshes(log), 2, 'the first token and the one after the 401');
    for (const r of [one, two]) {
      assert.equal(r.csrf, me.csrf_token, 'a POST to the Tessera origin carries the CSRF token');
      assert.equal(r.body, 'payload', 'the body is sent again on the retry');
    }

    const denied = await page.evaluate(async () => (await tessera.fetch('/__api/deny')).status);
    assert.equal(denied, 401, 'the second 401 is the answer: no loop');
    assert.equal(to(log, '/__api/deny').length, 2);
    assert.equal(refreshes(log), 3);
    assert.equal(to(log, '/__api/deny')[0].csrf, null, 'a GET carries no CSRF token');

    const ok = await page.evaluate(async () => (await tessera.fetch('/__api/whoami')).json());
    assert.equal(ok.sub, tessera.ids.ben);
    assert.equal(refreshes(log), 3, 'the fresh token is reused');

    const again = await page.evaluate(() => tessera.me());
    assert.equal(again.session_id, me.session_id);
    assert.notEqual(again.csrf_token, me.csrf_token, 'Tessera masks the CSRF token afresh in each answer');
    assert.equal((await page.evaluate(async () => (await tessera.fetch('/__api/whoami', { method: 'POST' })).status)), 200);
    assert.equal(refreshes(log), 3, 'a new-looking CSRF token of the same session keeps the access token');
    assert.equal(to(log, '/__api/whoami').at(-1).csrf, again.csrf_token, 'and the newest CSRF token is sent');

    const elsewhere = await page.evaluate(() => tessera.fetch('https://elsewhere.invalid/x').then(
      () => 'sent', (e) => `${e.name}: ${e.message}`));
    assert.match(elsewhere, /^TesseraError: not sending the access token to https:\/\/elsewhere\.invalid: add it to tokenOrigins/);
  });
});

test('signing out in one tab signs out all three', async () => {
  await withTabs('sign-out', 3, async (pages, log) => {
    await signIn(pages[0], 'cat');
    const [token] = await tokens(pages);
    assert.equal(refreshes(log), 1);
    assert.equal((await tessera.verifier.post('/v1/sessions/verify', { data: { access_token: token } })).status(), 200);

    await pages[1].evaluate(() => tessera.signOut());
    for (const page of pages) {
      await page.waitForFunction(() => tessera.signedIn === false);
      assert.deepEqual(await page.evaluate(() => events), ['signedin', 'signedout']);
      assert.equal(await page.evaluate(() => tessera.token()), null, 'no token after sign-out');
    }
    assert.equal(refreshes(log), 1, 'signed-out tabs do not try to refresh');
    assert.equal(await pages[2].evaluate(() => tessera.me()), null, 'the server agrees: the cookie is gone');
    const verified = await tessera.verifier.post('/v1/sessions/verify', { data: { access_token: token } });
    assert.equal(verified.status(), 401, 'the access token died with the session');

    const back = await signIn(pages[2], 'cat');
    assert.equal(back.user_id, tessera.ids.cat, 'signing in again works');
    for (const page of pages) assert.equal(await page.evaluate(() => tessera.signedIn), true);
    assert.equal(new Set(await tokens(pages)).size, 1);
    assert.equal(refreshes(log), 2);
  });
});

test('a session revoked on the server signs every tab out, without a refresh loop', async () => {
  await withTabs('revoked', 3, async (pages, log) => {
    const me = await signIn(pages[0], 'dan');
    await tokens(pages);
    assert.equal(refreshes(log), 1);
    const revoked = await tessera.backend.delete(`/v1/sessions/${me.session_id}`);
    assert.ok(revoked.ok(), `DELETE /v1/sessions/{sid} answered ${revoked.status()}`);

    const status = await pages[0].evaluate(async () => (await tessera.fetch('/__api/whoami')).status);
    assert.equal(status, 401);
    assert.equal(to(log, '/__api/whoami').length, 1, 'no retry: the refresh found the session gone');
    assert.equal(refreshes(log), 2, 'one refresh attempt');
    for (const page of pages) {
      await page.waitForFunction(() => tessera.signedIn === false);
      assert.deepEqual(await page.evaluate(() => events), ['signedin', 'signedout']);
    }
    const later = await pages[1].evaluate(async () => (await tessera.fetch('/__api/whoami')).status);
    assert.equal(later, 401);
    assert.equal(to(log, '/__api/whoami')[1].authorization, null, 'a signed-out tab sends no token');
    assert.equal(refreshes(log), 2, 'and does not refresh');
  });
});

test('sign-in: wrong password, bad arguments, and replacing a live session', async () => {
  await withTabs('sign-in', 2, async (pages) => {
    const wrong = await pages[0].evaluate(() => tessera.signIn('eve', 'not her password').then(
      () => null, (e) => ({ name: e.name, status: e.status, problem: e.problem })));
    assert.equal(wrong.name, 'TesseraError');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.problem.error, 'invalid_credentials');
    assert.equal(await pages[0].evaluate(() => tessera.signedIn), null, 'still not known to be signed in');

    const bad = await pages[0].evaluate(() => tessera.signIn('eve').catch((e) => e.constructor.name));
    assert.equal(bad, 'TypeError');
    const base = await pages[0].evaluate(() => {
      try {
        return new tessera.constructor({ baseUrl: 'javascript:alert(1)' }) && 'made';
      } catch (e) {
        return e.message;
      }
    });
    assert.equal(base, 'baseUrl must be an http(s) URL');

    const first = await signIn(pages[0], 'eve');
    await pages[1].reload(); // a tab that knows no CSRF token yet, in a browser with a live session
    await pages[1].waitForFunction(() => window.ready);
    const second = await signIn(pages[1], 'eve');
    assert.notEqual(second.session_id, first.session_id, 'a new session replaces the old one');
    const me = await pages[0].evaluate(() => tessera.me());
    assert.equal(me.session_id, second.session_id, 'the other tab follows the new session');
    assert.ok(await pages[0].evaluate(() => tessera.token()), 'and mints tokens for it');
  });
});

test('without Web Locks and BroadcastChannel a tab still refreshes once at a time', async () => {
  const strip = () => {
    Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });
    delete window.BroadcastChannel;
  };
  await withTabs('fallback', 1, async ([page], log) => {
    assert.equal(await page.evaluate(() => navigator.locks === undefined && !('BroadcastChannel' in window)), true);
    await signIn(page, 'fay');
    const [a, b] = await page.evaluate(() => Promise.all([tessera.token(), tessera.token()]));
    assert.ok(a);
    assert.equal(a, b);
    assert.equal(refreshes(log), 1, 'two calls at once in one tab make one refresh');
    assert.equal((await page.evaluate(async () => (await tessera.fetch('/__api/flaky')).status)), 200);
    assert.equal(refreshes(log), 2);
    await page.evaluate(() => tessera.signOut());
    assert.deepEqual(await page.evaluate(() => events), ['signedin', 'signedout']);
  }, strip);
});

// Real-browser tests of Tessera's built-in pages: Debian's Chromium, driven by playwright-core
// (no browser download), against a real `tessera serve` over TLS so the `__Host-` cookie is
// exactly what production sends. Run by scripts/test, which builds the binary and installs
// Chromium; TESSERA_BIN names the binary.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { freePort, launchChromium, startTlsTessera } from '../support/tessera.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, 'artifacts');
const bin = process.env.TESSERA_BIN;
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const password = 'correct horse battery';

let server;
let attacker;
let browser;
let base;
let attackerUrl;

// A page on another origin that tries a cross-site form POST and a credentialed fetch.
function startAttacker(port) {
  const page = `<!doctype html><title>totally harmless</title>
<form id="f" method="POST" action="${base}/auth/sessions/others/revoke"><input name="_csrf" value="guessed"></form>
<script>
fetch('${base}/auth/logout', { method: 'POST', credentials: 'include', mode: 'no-cors',
  headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '_csrf=guessed' })
  .catch(() => {}).finally(() => document.getElementById('f').submit());
</script>`;
  const srv = http.createServer((req, res) => res.end(page));
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

before(async () => {
  assert.ok(bin, 'set TESSERA_BIN to the tessera binary (scripts/test does)');
  mkdirSync(artifacts, { recursive: true });
  // The tests make their accounts on the sign-up page.
  server = await startTlsTessera(bin, { env: { TESSERA_SIGNUP: 'open' } });
  base = server.base;
  const attackerPort = await freePort();
  attackerUrl = `http://localhost:${attackerPort}/`;
  attacker = await startAttacker(attackerPort);
  browser = await launchChromium(chromium, chromiumPath);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  attacker?.close();
});

async function newPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  return { context, page: await context.newPage() };
}

async function submit(page, button) {
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: button }).click()]);
}

async function signUp(page, user) {
  await page.goto(`${base}/auth/signup`);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.fill('#confirm', password);
  await submit(page, 'Create account');
}

async function signIn(page, user, secret = password) {
  await page.goto(`${base}/auth/login`);
  await page.fill('#user', user);
  await page.fill('#password', secret);
  await submit(page, 'Sign in');
}

test('devices: sign up, sign in elsewhere, revoke it, change the password', async () => {
  const a = await newPage();
  await signUp(a.page, 'alice');
  assert.match(a.page.url(), /\/auth\/account$/);
  assert.match(await a.page.textContent('main'), /Signed in as alice/);
  assert.match(await a.page.textContent('ul.devices'), /This device/);
  const [cookie] = (await a.context.cookies()).filter((c) => c.name === '__Host-tessera');
  assert.ok(cookie, 'the __Host- session cookie is set');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.path, '/');

  const b = await newPage();
  await signIn(b.page, 'alice');
  assert.match(b.page.url(), /\/auth\/account$/);
  await a.page.reload();
  assert.equal(await a.page.locator('ul.devices > li').count(), 2, 'the account page lists both devices');
  await a.page.screenshot({ path: join(artifacts, 'account.png'), fullPage: true });

  // Revoke the other device from the first: its next request finds it signed out.
  const other = a.page.locator('ul.devices > li', { hasNotText: 'This device' });
  await Promise.all([a.page.waitForNavigation(), other.getByRole('button', { name: 'Sign out' }).click()]);
  assert.equal(await a.page.locator('ul.devices > li').count(), 1);
  await b.page.reload();
  assert.match(b.page.url(), /\/auth\/login$/, 'the revoked browser is signed out');

  // Changing the password signs the other browser out.
  await signIn(b.page, 'alice');
  assert.match(b.page.url(), /\/auth\/account$/);
  await a.page.reload();
  await a.page.fill('#current', password);
  await a.page.fill('#new', 'an even better password');
  await submit(a.page, 'Change password');
  assert.match(await a.page.textContent('main'), /Signed in as alice/, 'this browser stays signed in');
  await b.page.reload();
  assert.match(b.page.url(), /\/auth\/login$/, 'the other browser is signed out');
  await signIn(b.page, 'alice', 'an even better password');
  assert.match(b.page.url(), /\/auth\/account$/);
  await a.context.close();
  await b.context.close();
});

test('a cross-site form POST and a credentialed fetch change nothing', async () => {
  const victim = await newPage();
  await signUp(victim.page, 'bob');
  const laptop = await newPage();
  await signIn(laptop.page, 'bob');

  const refused = [];
  victim.page.on('response', (r) => {
    if (r.url().startsWith(base)) refused.push([new URL(r.url()).pathname, r.status()]);
  });
  await Promise.all([
    victim.page.waitForURL(`${base}/auth/sessions/others/revoke`),
    victim.page.goto(attackerUrl),
  ]);
  assert.deepEqual(refused.find(([path]) => path === '/auth/sessions/others/revoke'), ['/auth/sessions/others/revoke', 403]);
  assert.deepEqual(refused.find(([path]) => path === '/auth/logout'), ['/auth/logout', 403], 'the fetch was refused too');

  // Nothing changed: both of bob's browsers are still signed in.
  await victim.page.goto(`${base}/auth/account`);
  assert.match(victim.page.url(), /\/auth\/account$/);
  assert.equal(await victim.page.locator('ul.devices > li').count(), 2);
  await laptop.page.reload();
  assert.match(laptop.page.url(), /\/auth\/account$/);
  await victim.context.close();
  await laptop.context.close();
});

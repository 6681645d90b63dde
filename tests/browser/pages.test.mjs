// Real-browser tests of every built-in page (issue 13, item 8), in Debian's Chromium driven by
// playwright-core against a real `tessera serve` over TLS:
// - each page at 375 and 1280 px wide, light and dark: a screenshot in artifacts/
//   (<page>-<width>-<scheme>.png, for CI to keep), no sideways scrolling, and an axe-core scan run in
//   the page with no serious or critical violation;
// - the flows people go through: return_to, error states, the recovery link, "keep me signed in",
//   signing out everywhere else, times in the reader's zone.
// Run by scripts/test, which builds the binary and installs Chromium; TESSERA_BIN names the binary.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { launchChromium, startTlsTessera } from '../support/tessera.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, 'artifacts');
const bin = process.env.TESSERA_BIN;
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const password = 'correct horse battery';
const stronger = 'violet kettle harbour 91';
// The accounts, made with the CLI before the server starts: each test signs in to its own ones.
const users = ['pat', 'reed', 'rita', 'walt', 'stan', 'ezra', 'rosa', 'remy', 'otto', 'tess'];

let server;
let browser;
let base;

before(async () => {
  assert.ok(bin, 'set TESSERA_BIN to the tessera binary (scripts/test does)');
  mkdirSync(artifacts, { recursive: true });
  server = await startTlsTessera(bin, {
    users,
    password,
    env: {
      TESSERA_SIGNUP: 'open',
      // Every browser context is a new device from one loopback address: the per-address guessing
      // budget would slow the later sign-ins down by seconds each. Its throttling is tested in Rust.
      TESSERA_SIGNIN_CLIENT_LIMIT: 'off',
    },
  });
  base = server.base;
  browser = await launchChromium(chromium, chromiumPath);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newPage(options = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...options });
  return { context, page: await context.newPage() };
}

/** Clicks the button and waits for the page it leads to; that page's response. */
async function submit(page, button) {
  const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: button, exact: true }).click()]);
  return response;
}

/** Fills the sign-in form on the page shown and sends it. */
async function fillSignIn(page, user, secret = password, { remember = false } = {}) {
  await page.fill('#user', user);
  await page.fill('#password', secret);
  if (remember) await page.check('input[name=remember]');
  return submit(page, 'Sign in');
}

async function signIn(page, user, secret = password, options = {}) {
  await page.goto(`${base}/auth/login`);
  return fillSignIn(page, user, secret, options);
}

async function sessionCookie(context) {
  return (await context.cookies()).find((c) => c.name === '__Host-tessera');
}

/** What each of `input`'s aria-describedby ids points to: its text, or null where nothing has that id. */
function descriptions(input) {
  return input.evaluate((el) => (el.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean)
    .map((id) => [id, document.getElementById(id)?.textContent.trim() ?? null]));
}

// --- Every page at two widths, light and dark ------------------------------------------------

/** axe-core's violations on the page as shown now, injected as a plain evaluation (the CSP stays on). */
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return violations;
}

/**
 * Screenshots `page` as shown now at 375 and 1280 px, light and dark, to artifacts/NAME-WIDTH-SCHEME.png,
 * and fails on any sideways scroll or serious or critical axe violation (every one listed, with
 * its failing elements); lesser ones are reported as diagnostics.
 */
async function checkEverywhere(t, page, name) {
  const problems = [];
  const backgrounds = {};
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    for (const colorScheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme });
      const where = `${name} at ${width} px, ${colorScheme}`;
      const shown = await page.evaluate(() => ({
        dark: matchMedia('(prefers-color-scheme: dark)').matches,
        background: getComputedStyle(document.body).backgroundColor,
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      assert.equal(shown.dark, colorScheme === 'dark', `${where}: the colour scheme is emulated`);
      backgrounds[`${colorScheme} at ${width} px`] = shown.background;
      if (shown.scrollWidth > shown.innerWidth) {
        problems.push(`${where}: scrolls sideways (${shown.scrollWidth} px of content in ${shown.innerWidth} px)`);
      }
      for (const v of await axeViolations(page)) {
        const targets = v.nodes.map((n) => n.target.join(' ')).join(', ');
        const line = `${where}: ${v.id} (${v.impact}): ${v.help} [${targets}]`;
        if (v.impact === 'serious' || v.impact === 'critical') problems.push(line);
        else t.diagnostic(line);
      }
      await page.screenshot({ path: join(artifacts, `${name}-${width}-${colorScheme}.png`), fullPage: true });
    }
  }
  for (const width of [375, 1280]) {
    assert.notEqual(backgrounds[`light at ${width} px`], backgrounds[`dark at ${width} px`], `${name}: dark is not light`);
  }
  assert.deepEqual(problems, []);
}

test('page: sign in', async (t) => {
  const { context, page } = await newPage();
  await page.goto(`${base}/auth/login`);
  assert.equal(await page.title(), 'Sign in · Tessera');
  await checkEverywhere(t, page, 'login');
  await context.close();
});

test('page: sign up', async (t) => {
  const { context, page } = await newPage();
  await page.goto(`${base}/auth/signup`);
  assert.equal(await page.title(), 'Create your account · Tessera');
  await checkEverywhere(t, page, 'signup');
  await context.close();
});

test('page: sign in after a wrong password (the alert)', async (t) => {
  const { context, page } = await newPage();
  const response = await signIn(page, 'pat', 'not the password');
  assert.equal(response.status(), 401);
  await page.getByRole('alert').waitFor();
  await checkEverywhere(t, page, 'login-wrong');
  await context.close();
});

test('page: sign up with field errors', async (t) => {
  const { context, page } = await newPage();
  await page.goto(`${base}/auth/signup`);
  await page.fill('#user', 'someone');
  await page.fill('#password', 'password1');
  await page.fill('#confirm', 'password1');
  assert.equal((await submit(page, 'Create account')).status(), 400);
  assert.equal(await page.getAttribute('#password', 'aria-invalid'), 'true');
  await checkEverywhere(t, page, 'signup-errors');
  await context.close();
});

test('page: account with two devices, then with a field error and the confirmation open', async (t) => {
  const a = await newPage();
  const b = await newPage();
  await signIn(a.page, 'pat');
  await signIn(b.page, 'pat');
  await a.page.reload();
  assert.equal(await a.page.locator('ul.devices > li').count(), 2, 'both devices are listed');
  await checkEverywhere(t, a.page, 'account');

  await a.page.fill('#current', password);
  await a.page.fill('#new', 'iloveyou');
  assert.equal((await submit(a.page, 'Change password')).status(), 400);
  assert.equal(await a.page.getAttribute('#new', 'aria-invalid'), 'true');
  // With the sign-out-everywhere confirmation open, so its button is looked at too.
  await a.page.getByText('Sign out everywhere else', { exact: true }).click();
  await a.page.getByRole('button', { name: 'Yes, sign out 1 device' }).waitFor();
  await checkEverywhere(t, a.page, 'account-errors');
  await a.context.close();
  await b.context.close();
});

test('page: choose a new password (recovery link)', async (t) => {
  const link = server.cli(['users', 'reset-link', 'reed']);
  const { context, page } = await newPage();
  await page.goto(link);
  assert.equal(await page.title(), 'Choose a new password · Tessera');
  await checkEverywhere(t, page, 'reset');
  await context.close();
});

test('page: an error (signed out)', async (t) => {
  const { context, page } = await newPage();
  const response = await page.goto(`${base}/auth/me`);
  assert.equal(response.status(), 401);
  assert.equal(await page.title(), 'You are signed out · Tessera');
  await checkEverywhere(t, page, 'error');
  await context.close();
});

// --- Flows ---------------------------------------------------------------------------------

test('return_to: a path here is followed after sign-in, kept through a failed attempt', async () => {
  const { context, page } = await newPage();
  await page.goto(`${base}/auth/login?return_to=${encodeURIComponent('/auth/account?x=1')}`);
  assert.equal((await fillSignIn(page, 'rita', 'not the password')).status(), 401);
  assert.equal(await page.inputValue('input[name=return_to]'), '/auth/account?x=1');
  await fillSignIn(page, 'rita');
  assert.equal(page.url(), `${base}/auth/account?x=1`);
  await context.close();
});

test('return_to: another origin is dropped, from the link and from the form', async () => {
  for (const target of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
    const { context, page } = await newPage();
    await page.goto(`${base}/auth/login?return_to=${encodeURIComponent(target)}`);
    assert.equal(await page.locator('input[name=return_to]').count(), 0, `${target} is not carried by the form`);
    // A form made elsewhere could still send it: the server drops it there too.
    await page.evaluate((value) => {
      const field = Object.assign(document.createElement('input'), { type: 'hidden', name: 'return_to', value });
      document.querySelector('form[action="/auth/login"]').append(field);
    }, target);
    await fillSignIn(page, 'rita');
    assert.equal(page.url(), `${base}/auth/account`, `${target} is not followed`);
    await context.close();
  }
});

test('a wrong password keeps the name typed (never the password) and says so', async () => {
  const { context, page } = await newPage();
  const response = await signIn(page, 'walt', 'not the password', { remember: true });
  assert.equal(response.status(), 401);
  assert.match(page.url(), /\/auth\/login$/);
  assert.equal(await page.getByRole('alert').textContent(), 'Wrong user name or password.');
  assert.equal(await page.inputValue('#user'), 'walt');
  assert.equal(await page.inputValue('#password'), '');
  assert.ok(!(await page.content()).includes('not the password'), 'the password is not on the page');
  assert.equal(await page.isChecked('input[name=remember]'), true, '"keep me signed in" stays ticked');
  assert.equal(await sessionCookie(context), undefined, 'not signed in');
  await context.close();
});

test('sign-up: a weak password is tied to its field, explained, and the name kept', async () => {
  const { context, page } = await newPage();
  await page.goto(`${base}/auth/signup`);
  await page.fill('#user', 'newcomer');
  await page.fill('#password', 'password1');
  await page.fill('#confirm', 'password1');
  assert.equal((await submit(page, 'Create account')).status(), 400);
  const field = page.locator('#password');
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  const described = Object.fromEntries(await descriptions(field));
  assert.deepEqual(Object.keys(described), ['password-error', 'password-hint']);
  assert.match(described['password-error'], /common|guess/, 'the error says what is wrong');
  assert.match(described['password-hint'], /At least 8 characters/);
  assert.equal(await page.inputValue('#user'), 'newcomer');
  assert.equal(await page.inputValue('#password'), '');
  assert.equal(await page.locator('#user').getAttribute('aria-invalid'), null, 'only the password is in error');

  await page.fill('#password', password);
  await page.fill('#confirm', password);
  await submit(page, 'Create account');
  assert.equal(page.url(), `${base}/auth/account`);
  assert.match(await page.textContent('main'), /Signed in as newcomer/);
  await context.close();
});

test('a stale tab posting after sign-out gets an HTML page, not JSON', async () => {
  const { context, page } = await newPage();
  await signIn(page, 'stan');
  const stale = await context.newPage();
  await stale.goto(`${base}/auth/account`);
  await submit(page, 'Sign out');
  assert.match(page.url(), /\/auth\/login$/);

  await stale.fill('#current', password);
  await stale.fill('#new', stronger);
  const response = await submit(stale, 'Change password');
  assert.equal(response.status(), 401);
  assert.match(response.headers()['content-type'], /^text\/html/);
  assert.equal(await stale.title(), 'You are signed out · Tessera');
  assert.equal(await stale.getByRole('heading', { level: 1 }).textContent(), 'You are signed out');
  assert.equal(await stale.getByRole('link', { name: 'Sign in' }).getAttribute('href'), '/auth/login');
  await context.close();
});

test('an expired sign-in form sends nothing and comes back empty, ready again', async () => {
  const { context, page } = await newPage();
  await page.goto(`${base}/auth/login`);
  await context.clearCookies({ name: '__Host-tessera-login' }); // as when it is over an hour old
  const response = await fillSignIn(page, 'ezra');
  assert.equal(response.status(), 403);
  assert.match(await page.getByRole('alert').textContent(), /^This form had expired, so nothing was sent/);
  assert.equal(await page.inputValue('#user'), '', 'nothing of the expired form is trusted');
  assert.equal(await sessionCookie(context), undefined, 'not signed in');

  await fillSignIn(page, 'ezra');
  assert.equal(page.url(), `${base}/auth/account`);
  await context.close();
});

test('recovery link: a weak password is refused, a strong one signs in and ends other sessions, the link works once', async () => {
  const elsewhere = await newPage();
  await signIn(elsewhere.page, 'rosa');
  assert.equal(elsewhere.page.url(), `${base}/auth/account`);

  const link = server.cli(['users', 'reset-link', 'rosa']);
  assert.ok(link.startsWith(`${base}/auth/reset?token=`), link);
  const { context, page } = await newPage();
  await page.goto(link);
  assert.match(await page.textContent('main'), /For the account rosa/);

  await page.fill('#password', 'iloveyou');
  await page.fill('#confirm', 'iloveyou');
  assert.equal((await submit(page, 'Set the password')).status(), 400);
  assert.equal(await page.getAttribute('#password', 'aria-invalid'), 'true');
  const described = Object.fromEntries(await descriptions(page.locator('#password')));
  assert.match(described['password-error'] ?? '', /common|guess/);
  assert.equal(await sessionCookie(context), undefined, 'not signed in');

  await page.fill('#password', stronger);
  await page.fill('#confirm', stronger);
  await submit(page, 'Set the password');
  assert.equal(page.url(), `${base}/auth/account`);
  assert.match(await page.textContent('main'), /Signed in as rosa/);
  assert.equal(await page.locator('ul.devices > li').count(), 1, 'the other session ended');
  await elsewhere.page.reload();
  assert.match(elsewhere.page.url(), /\/auth\/login$/, 'the other browser is signed out');
  await signIn(elsewhere.page, 'rosa', stronger);
  assert.equal(elsewhere.page.url(), `${base}/auth/account`, 'the new password works');

  const again = await page.goto(link);
  assert.equal(again.status(), 404);
  assert.equal(await page.title(), 'This link does not work · Tessera');
  await context.close();
  await elsewhere.context.close();
});

test('"keep me signed in" makes the cookie outlive the browser; without it, a session cookie', async () => {
  const kept = await newPage();
  await signIn(kept.page, 'remy', password, { remember: true });
  assert.equal(kept.page.url(), `${base}/auth/account`);
  const persistent = await sessionCookie(kept.context);
  assert.ok(persistent.expires > Date.now() / 1000 + 3600, `expires ${persistent.expires}`);

  const once = await newPage();
  await signIn(once.page, 'remy');
  assert.equal(once.page.url(), `${base}/auth/account`);
  assert.equal((await sessionCookie(once.context)).expires, -1, 'a session cookie');
  await kept.context.close();
  await once.context.close();
});

test('sign out everywhere else: asks first, then signs the other browsers out', async () => {
  const [a, b, c] = [await newPage(), await newPage(), await newPage()];
  for (const { page } of [a, b, c]) await signIn(page, 'otto');
  await a.page.reload();
  const confirm = a.page.getByRole('button', { name: 'Yes, sign out 2 devices' });
  assert.equal(await confirm.isVisible(), false, 'hidden until asked for');
  await a.page.getByText('Sign out everywhere else', { exact: true }).click();
  await confirm.waitFor({ state: 'visible' });
  await Promise.all([a.page.waitForNavigation(), confirm.click()]);
  assert.equal(a.page.url(), `${base}/auth/account?done=others`);
  assert.equal(await a.page.getByRole('status').textContent(), 'Every other device was signed out.');
  assert.equal(await a.page.locator('ul.devices > li').count(), 1);
  for (const other of [b, c]) {
    await other.page.reload();
    assert.match(other.page.url(), /\/auth\/login$/, 'the other browser is signed out');
  }
  await a.page.reload();
  assert.equal(a.page.url(), `${base}/auth/account?done=others`, 'this browser stays signed in');
  for (const { context } of [a, b, c]) await context.close();
});

test('times are in UTC without script, in the reader\'s zone with it', async () => {
  const plain = await newPage({ javaScriptEnabled: false });
  await signIn(plain.page, 'tess');
  const utc = await plain.page.locator('time').allTextContents();
  assert.ok(utc.length >= 3, 'the device and the activity have times');
  for (const text of utc) assert.match(text, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);

  const tokyo = await newPage({ timezoneId: 'Asia/Tokyo', locale: 'en-GB' });
  await signIn(tokyo.page, 'tess');
  const times = await tokyo.page.locator('time').evaluateAll((all) => all.map((t) => ({
    iso: t.getAttribute('datetime'), text: t.textContent, title: t.title,
  })));
  assert.ok(times.length >= 3);
  for (const { iso, text, title } of times) {
    assert.match(title, /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/, 'the UTC text stays as the tooltip');
    assert.notEqual(text, title);
    assert.match(text, /GMT\+9|JST/, `${text} names the zone`);
    const local = new Date(Date.parse(iso) + 9 * 3600_000).toISOString().slice(11, 16);
    assert.ok(text.includes(local), `${text} shows ${iso} in Tokyo (${local})`);
  }
  await plain.context.close();
  await tokyo.context.close();
});

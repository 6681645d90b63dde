// End to end: a real `tessera serve`, the example started as `npm start` would, and a client
// that keeps cookies like a browser. Sign-in, protected route, refresh, rate limit, logout
// everywhere, logout.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { TesseraServer, freePort } from '../../../clients/node/test/tessera-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'a demo password for the test';
const PER_MINUTE = 5;
let tessera;
let app;
let base;

function startApp(env) {
  const child = spawn(process.execPath, [join(here, '..', 'server.js')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`the app did not start:\n${log}`)), 15_000);
    child.stderr.on('data', (c) => { log += c; });
    child.stdout.on('data', (c) => {
      log += c;
      if (log.includes('listening')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`the app exited with ${code}:\n${log}`)));
  });
}

/** A browser-like user agent: keeps cookies, the access token and the CSRF token. */
class Browser {
  jar = new Map();
  access = undefined;
  csrf = undefined;

  async call(method, path, { body, bearer = false, csrf = false } = {}) {
    const headers = { cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer && this.access) headers.authorization = `Bearer ${this.access}`;
    if (csrf && this.csrf) headers['x-csrf-token'] = this.csrf;
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attributes] = c.split('; ');
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
      if (attributes.includes('Max-Age=0')) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const json = res.headers.get('content-type')?.includes('json') ? await res.json() : undefined;
    if (json?.access_token) Object.assign(this, { access: json.access_token, csrf: json.csrf_token });
    return { status: res.status, json, headers: res.headers };
  }

  login(password = PASSWORD) {
    return this.call('POST', '/auth/login', { body: { user: 'alice', password } });
  }
}

async function eventually(check, what) {
  const end = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  tessera = await new TesseraServer().start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  app = await startApp({
    TESSERA_URL: tessera.url,
    TESSERA_API_KEY: await tessera.apiKey('example-backend', 'sessions'),
    TESSERA_VERIFY_KEY: await tessera.apiKey('example', 'verify'),
    PORT: String(port),
    DEMO_PASSWORD: PASSWORD,
    RATE_LIMIT_PER_MINUTE: String(PER_MINUTE),
  });
});

after(async () => {
  if (app && app.exitCode === null) {
    const exited = new Promise((r) => app.once('exit', r));
    app.kill('SIGTERM');
    await exited;
  }
  await tessera?.destroy();
});

test('a wrong password is refused', async () => {
  const res = await new Browser().login('wrong');
  assert.equal(res.status, 401);
  assert.equal((await new Browser().call('POST', '/auth/login', { body: { user: 'mallory', password: PASSWORD } })).status, 401);
});

test('sign in, use, refresh, and log out', async () => {
  const b = new Browser();
  assert.equal((await b.login()).status, 200);
  assert.ok(b.jar.has('__Host-tessera-refresh'));
  const me = await b.call('GET', '/api/me', { bearer: true });
  assert.equal(me.status, 200);
  assert.equal(me.json.name, 'Alice');
  assert.equal((await b.call('GET', '/api/me')).status, 401, 'no token, no entry');
  assert.equal((await b.call('POST', '/auth/refresh')).status, 403, 'refresh needs the CSRF header');
  const first = b.access;
  const refreshed = await b.call('POST', '/auth/refresh', { csrf: true });
  assert.equal(refreshed.status, 200);
  assert.notEqual(b.access, first);
  assert.equal((await b.call('GET', '/api/me', { bearer: true })).json.session_id, me.json.session_id);
  assert.equal((await b.call('POST', '/auth/logout', { csrf: true })).status, 204);
  assert.equal(b.jar.size, 0, 'logout clears the cookies');
  await eventually(async () => (await b.call('GET', '/api/me', { bearer: true })).status === 401, 'the logout to reach the app');
});

test('logout everywhere ends the other devices too', async () => {
  const laptop = new Browser();
  const phone = new Browser();
  await laptop.login();
  await phone.login();
  const sessions = await laptop.call('GET', '/api/sessions', { bearer: true });
  assert.ok(sessions.json.length >= 2);
  assert.equal((await laptop.call('POST', '/auth/logout-all', { bearer: true })).status, 403, 'needs the CSRF header');
  assert.equal((await laptop.call('POST', '/auth/logout-all', { bearer: true, csrf: true })).status, 204);
  await eventually(async () => (await phone.call('GET', '/api/me', { bearer: true })).status === 401, 'the phone to be signed out');
  const refresh = await phone.call('POST', '/auth/refresh', { csrf: true });
  assert.equal(refresh.status, 401);
  assert.equal(phone.jar.size, 0);
});

test('each session has its own rate limit', async () => {
  const greedy = new Browser();
  const other = new Browser();
  await greedy.login();
  await other.login();
  let limited;
  for (let i = 0; i <= PER_MINUTE && !limited; i += 1) {
    const res = await greedy.call('GET', '/api/me', { bearer: true });
    if (res.status === 429) limited = res;
  }
  assert.ok(limited, `a ${PER_MINUTE + 1}th request in a minute is refused`);
  assert.match(limited.headers.get('retry-after'), /^[1-9][0-9]*$/);
  assert.equal((await other.call('GET', '/api/me', { bearer: true })).status, 200);
});

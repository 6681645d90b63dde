// What happens around the server's life: a key rotation (the JWKS refetched on an unknown kid,
// at most once per cooldown), a stale revocation feed (fail closed with 503, then recovery),
// a server that is not there at start, and a clean close.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeProtectedHeader } from 'jose';

import { createTessera } from '../src/index.js';
import { countingFetch, createSession, eventually, expect401, get, listen, protectedApp } from './helpers.js';
import { TesseraServer, freePort } from './tessera-server.js';

let server;
let verifyKey;
const opened = [];

async function start(options) {
  const fetch = countingFetch();
  const tessera = createTessera({ url: server.url, apiKey: verifyKey, feedIntervalMs: 100, fetch, ...options });
  const app = await listen(protectedApp(tessera));
  opened.push({ tessera, app });
  return { tessera, fetch, url: app.url };
}

before(async () => {
  server = await new TesseraServer().start();
  verifyKey = await server.apiKey('orders', 'verify');
});

after(async () => {
  for (const { tessera, app } of opened) {
    tessera.close();
    await app.close();
  }
  await server.destroy();
});

test('a stale feed fails closed with 503, and recovers when the server is back', async () => {
  const { url } = await start({ feedStalenessMs: 500 });
  const issued = await createSession(server, 'alice');
  assert.equal((await get(`${url}/me`, issued.access_token)).status, 200);
  await server.stop();
  const res = await eventually(async () => {
    const r = await get(`${url}/me`, issued.access_token);
    return r.status === 503 ? r : null;
  }, 'the middleware to fail closed');
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  const problem = await res.json();
  assert.equal(problem.status, 503);
  assert.match(problem.detail, /revocation feed/);
  // A request without a token is still told to authenticate, not that we are down.
  assert.equal((await get(`${url}/me`)).status, 401);
  await server.start();
  await eventually(async () => (await get(`${url}/me`, issued.access_token)).status === 200, 'recovery');
});

test('a key rotation: the new kid is fetched once the cooldown allows, and only once', async () => {
  let shift = 0;
  const { tessera, fetch, url } = await start({ jwksCooldownMs: 30_000, feedStalenessMs: 60_000, now: () => Date.now() + shift });
  await tessera.ready();
  const jwks = () => fetch.count('/.well-known/jwks.json');
  const old = await createSession(server, 'bob');
  // Rotate twice: the first promotes the already published next key; the second promotes a key
  // this middleware has never seen.
  await server.stop();
  server.cli('keys', 'rotate');
  server.cli('keys', 'rotate');
  await server.start();
  const fresh = await createSession(server, 'bob');
  assert.notEqual(decodeProtectedHeader(fresh.access_token).kid, decodeProtectedHeader(old.access_token).kid);
  await eventually(() => tessera.ready().then(() => true, () => false), 'the feed to catch up after the restart');
  const fetched = jwks();
  // Inside the cooldown the unknown kid is refused without a fetch.
  assert.match((await expect401(assert, await get(`${url}/me`, fresh.access_token))).detail, /unknown key/);
  assert.equal(jwks(), fetched);
  shift = 31_000;
  assert.equal((await get(`${url}/me`, fresh.access_token)).status, 200);
  assert.equal(jwks(), fetched + 1);
  // Known now: no more fetches; and the old key still verifies its tokens until they expire.
  assert.equal((await get(`${url}/me`, fresh.access_token)).status, 200);
  assert.equal((await get(`${url}/me`, old.access_token)).status, 200);
  assert.equal(jwks(), fetched + 1);
});

test('nothing is accepted before the first sync: an unreachable server means 503', async () => {
  const port = await freePort();
  const tessera = createTessera({ url: `http://127.0.0.1:${port}`, apiKey: verifyKey, feedIntervalMs: 100 });
  const app = await listen(protectedApp(tessera));
  opened.push({ tessera, app });
  await assert.rejects(tessera.ready(), /revocation feed/);
  const issued = await createSession(server, 'carol');
  const res = await get(`${app.url}/me`, issued.access_token);
  assert.equal(res.status, 503);
  assert.ok(res.headers.get('retry-after'));
});

test('close() stops polling', async () => {
  const { tessera, fetch } = await start({});
  await tessera.ready();
  tessera.close();
  const polls = fetch.count('/v1/revocations');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(fetch.count('/v1/revocations'), polls);
});

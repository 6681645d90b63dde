// The middleware against a real `tessera serve`: valid tokens pass with their claims, and every
// way a token can be wrong gets 401 problem+json.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';

import { createTessera } from '../src/index.js';
import { countingFetch, createSession, eventually, expect401, get, listen, protectedApp } from './helpers.js';
import { TesseraServer } from './tessera-server.js';

let server;
let verifyKey;
const started = []; // every middleware instance and app, closed at the end

async function start(options = {}) {
  const fetch = countingFetch();
  const tessera = createTessera({ url: server.url, apiKey: verifyKey, feedIntervalMs: 100, fetch, ...options });
  const app = await listen(protectedApp(tessera));
  started.push({ tessera, app });
  return { tessera, fetch, url: app.url };
}

/** A token like Tessera's, with `header` and `claims` overriding, signed by `key` with `alg`. */
async function forge(real, { header = {}, claims = {}, key, alg = 'EdDSA' }) {
  const realHeader = decodeProtectedHeader(real);
  return new SignJWT({ ...decodeJwt(real), ...claims }).setProtectedHeader({ ...realHeader, alg, ...header }).sign(key);
}

before(async () => {
  server = await new TesseraServer().start();
  verifyKey = await server.apiKey('orders', 'verify');
});

after(async () => {
  for (const { tessera, app } of started) {
    tessera.close();
    await app.close();
  }
  await server.destroy();
});

describe('a valid token', () => {
  test('passes with its claims as req.session', async () => {
    const { tessera, url } = await start();
    await tessera.ready();
    const issued = await createSession(server, 'alice', { role: 'admin' });
    const res = await get(`${url}/me`, issued.access_token);
    assert.equal(res.status, 200);
    const session = await res.json();
    assert.equal(session.sub, 'alice');
    assert.equal(session.sid, issued.session_id);
    assert.equal(session.role, 'admin');
    assert.equal(session.iss, server.url);
  });

  test('is optional on optionalSession routes', async () => {
    const { url } = await start();
    const issued = await createSession(server, 'bob');
    assert.deepEqual(await (await get(`${url}/maybe`)).json(), { session: null });
    assert.equal((await (await get(`${url}/maybe`, issued.access_token)).json()).session.sub, 'bob');
    await expect401(assert, await get(`${url}/maybe`, 'not.a.token'));
  });
});

describe('rejections', () => {
  let url;
  let real;
  let fetchCount;
  before(async () => {
    const s = await start({ jwksCooldownMs: 3_600_000 });
    await s.tessera.ready();
    url = s.url;
    fetchCount = () => s.fetch.count('/.well-known/jwks.json');
    real = (await createSession(server, 'carol')).access_token;
  });

  test('a missing token', async () => {
    const problem = await expect401(assert, await get(`${url}/me`));
    assert.equal(problem.type, 'urn:tessera:problem:unauthorized');
  });

  test('a header that is not Bearer', async () => {
    await expect401(assert, await get(`${url}/me`, undefined, { authorization: 'Basic YWxpY2U6cHc=' }));
  });

  test('a malformed token', async () => {
    for (const token of ['abc', 'a.b.c', `${real}x.y`]) await expect401(assert, await get(`${url}/me`, token));
  });

  test('a tampered payload', async () => {
    const [h, , s] = real.split('.');
    const payload = Buffer.from(JSON.stringify({ ...decodeJwt(real), sub: 'mallory' })).toString('base64url');
    const problem = await expect401(assert, await get(`${url}/me`, `${h}.${payload}.${s}`));
    assert.match(problem.detail, /signature/);
  });

  test('a token signed by another key under the real kid', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const problem = await expect401(assert, await get(`${url}/me`, await forge(real, { key: privateKey })));
    assert.match(problem.detail, /signature/);
  });

  test('alg confusion: HS256 keyed with the public key, and alg none', async () => {
    const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json();
    const jwk = jwks.keys.find((k) => k.kid === decodeProtectedHeader(real).kid);
    for (const secret of [Buffer.from(jwk.x, 'base64url'), Buffer.from(JSON.stringify(jwk)), Buffer.from(jwk.x)]) {
      const problem = await expect401(assert, await get(`${url}/me`, await forge(real, { key: secret, alg: 'HS256' })));
      assert.match(problem.detail, /algorithm/);
    }
    const none = new UnsecuredJWT(decodeJwt(real)).encode();
    await expect401(assert, await get(`${url}/me`, none));
  });

  test('an unknown kid, without refetching the JWKS inside the cooldown', async () => {
    const before = fetchCount();
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    for (const kid of ['unknown-1', 'unknown-2', 'unknown-3']) {
      const problem = await expect401(assert, await get(`${url}/me`, await forge(real, { key: privateKey, header: { kid } })));
      assert.match(problem.detail, /unknown key/);
    }
    assert.equal(fetchCount(), before, 'no JWKS fetch inside the cooldown');
  });
});

test('an expired token', async () => {
  const { url } = await start({ now: () => Date.now() + 2 * 3600 * 1000 });
  const issued = await createSession(server, 'dave');
  const problem = await expect401(assert, await get(`${url}/me`, issued.access_token));
  assert.match(problem.detail, /expired/);
});

test('a token not yet valid (issued in the future beyond the leeway)', async () => {
  const { url } = await start({ now: () => Date.now() - 3600 * 1000, leewaySec: 5 });
  const issued = await createSession(server, 'dave');
  await expect401(assert, await get(`${url}/me`, issued.access_token));
});

test('the wrong audience or issuer', async () => {
  const issued = await createSession(server, 'erin');
  const wrongAudience = await start({ audience: 'payments' });
  assert.match((await expect401(assert, await get(`${wrongAudience.url}/me`, issued.access_token))).detail, /"aud"/);
  const wrongIssuer = await start({ issuer: 'https://auth.example.com' });
  assert.match((await expect401(assert, await get(`${wrongIssuer.url}/me`, issued.access_token))).detail, /"iss"/);
});

// An unset environment variable passed as an option must not switch a check off: jose skips
// `aud` and `iss` when they are undefined.
test('an audience or issuer given as undefined takes its default; an empty one is refused', async () => {
  const issued = await createSession(server, 'erin');
  const unset = await start({ audience: undefined, issuer: undefined });
  assert.equal((await get(`${unset.url}/me`, issued.access_token)).status, 200);
  for (const bad of [{ audience: '' }, { issuer: '' }, { audience: 7 }]) {
    assert.throws(() => createTessera({ url: server.url, apiKey: 'k', ...bad }), /must be a non-empty string/);
  }
});

describe('revocation through the feed', () => {
  test('a revoked session is refused', async () => {
    const { url } = await start();
    const issued = await createSession(server, 'frank');
    assert.equal((await get(`${url}/me`, issued.access_token)).status, 200);
    const res = await fetch(`${server.url}/v1/sessions/${issued.session_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${server.adminKey}` } });
    assert.equal(res.status, 204);
    const refused = await eventually(async () => {
      const r = await get(`${url}/me`, issued.access_token);
      return r.status === 401 ? r : null;
    }, 'the revocation to reach the middleware');
    assert.match((await expect401(assert, refused)).detail, /revoked/);
  });

  test('logout everywhere but here keeps only the current session', async () => {
    const { url } = await start();
    const here = await createSession(server, 'grace');
    const there = await createSession(server, 'grace');
    const res = await fetch(`${server.url}/v1/users/grace/sessions?except=${here.session_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${server.adminKey}` } });
    assert.equal(res.status, 200);
    await eventually(async () => (await get(`${url}/me`, there.access_token)).status === 401, 'the other session to be refused');
    assert.equal((await get(`${url}/me`, here.access_token)).status, 200);
  });

  test('a revoked access token is refused, the next token of its session is not', async () => {
    const { url } = await start();
    const issued = await createSession(server, 'judy');
    const basic = Buffer.from(`admin:${server.adminKey}`).toString('base64');
    const res = await fetch(`${server.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: issued.access_token }),
    });
    assert.equal(res.status, 200);
    const refused = await eventually(async () => {
      const r = await get(`${url}/me`, issued.access_token);
      return r.status === 401 ? r : null;
    }, 'the token revocation to reach the middleware');
    assert.match((await expect401(assert, refused)).detail, /token was revoked/);
    const refreshed = await fetch(`${server.url}/v1/sessions/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: issued.refresh_token }),
    });
    assert.equal((await get(`${url}/me`, (await refreshed.json()).access_token)).status, 200);
  });

  test('a middleware started after the revocation reads it in its first sync', async () => {
    const issued = await createSession(server, 'heidi');
    await fetch(`${server.url}/v1/sessions/${issued.session_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${server.adminKey}` } });
    const { url } = await start({ feedPageSize: 1 }); // every earlier revocation is a page of its own
    // No wait: the first request waits for the first sync, which pages to the end.
    await expect401(assert, await get(`${url}/me`, issued.access_token));
  });
});

describe('bad configuration', () => {
  test('is a clear error, not a crash', () => {
    assert.throws(() => createTessera({}), /url/);
    assert.throws(() => createTessera({ url: server.url }), /apiKey/);
    assert.throws(() => createTessera({ url: server.url, apiKey: 'k', feedIntervalMs: -1 }), /feedIntervalMs/);
  });

  test('a feed key without the verify scope fails closed', async () => {
    const metricsKey = await server.apiKey('grafana', 'metrics');
    const { tessera, url } = await start({ apiKey: metricsKey });
    await assert.rejects(tessera.ready(), /revocation feed/);
    const issued = await createSession(server, 'ivan');
    const res = await get(`${url}/me`, issued.access_token);
    assert.equal(res.status, 503);
  });
});

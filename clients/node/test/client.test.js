// The backend client against a real `tessera serve`: every call, and its errors.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { TesseraClient, TesseraError } from '../src/index.js';
import { countingFetch } from './helpers.js';
import { TesseraServer, freePort } from './tessera-server.js';

let server;
let client;

before(async () => {
  server = await new TesseraServer().start();
  client = new TesseraClient({ url: server.url, apiKey: await server.apiKey('backend', 'sessions') });
});

after(() => server.destroy());

test('create, get, update, list, refresh and revoke a session', async () => {
  const tokens = await client.createSession({ user_id: 'alice', claims: { role: 'admin' }, device: { label: 'laptop' } });
  assert.equal(tokens.token_type, 'Bearer');
  assert.match(tokens.refresh_token, /^tsr_/);
  const view = await client.getSession(tokens.session_id);
  assert.equal(view.user_id, 'alice');
  assert.deepEqual(view.claims, { role: 'admin' });
  assert.equal(view.device.label, 'laptop');
  const { version } = await client.updateSession(tokens.session_id, view.version, { claims: { role: 'reader' } });
  assert.ok(version > view.version);
  assert.deepEqual((await client.getSession(tokens.session_id)).claims, { role: 'reader' });
  const verified = await client.verify(tokens.access_token);
  assert.equal(verified.claims.sid, tokens.session_id);
  const next = await client.refresh(tokens.refresh_token);
  assert.equal(next.session_id, tokens.session_id);
  assert.notEqual(next.refresh_token, tokens.refresh_token);
  assert.deepEqual((await client.listSessions('alice')).map((s) => s.session_id), [tokens.session_id]);
  await client.revokeSession(tokens.session_id);
  const gone = await client.getSession(tokens.session_id).catch((e) => e);
  assert.ok(gone instanceof TesseraError);
  assert.equal(gone.status, 410);
  assert.equal(gone.problem.revoke_reason, 'admin');
  assert.deepEqual(await client.listSessions('alice'), []);
});

test('revoke all of a user, or all but the current session', async () => {
  const a = await client.createSession({ user_id: 'bob' });
  const b = await client.createSession({ user_id: 'bob' });
  const c = await client.createSession({ user_id: 'bob' });
  const others = await client.revokeUserSessions('bob', { except: a.session_id });
  assert.deepEqual(others.sort(), [b.session_id, c.session_id].sort());
  assert.deepEqual((await client.listSessions('bob')).map((s) => s.session_id), [a.session_id]);
  assert.deepEqual(await client.revokeUserSessions('bob'), [a.session_id]);
});

test('errors carry the problem document', async () => {
  const malformed = await client.getSession('not-a-session-id').catch((e) => e);
  assert.ok(malformed instanceof TesseraError);
  assert.equal(malformed.status, 400);
  assert.equal(malformed.problem.status, 400);
  assert.match(malformed.type, /^urn:tessera:problem:/);
  const stale = await client.createSession({ user_id: 'carol' });
  const view = await client.getSession(stale.session_id);
  const conflict = await client.updateSession(stale.session_id, view.version + 7, { data: { x: 1 } }).catch((e) => e);
  assert.ok(conflict instanceof TesseraError);
  assert.equal(conflict.status, 412);
  const badGrant = await client.refresh('tsr_garbage').catch((e) => e);
  assert.ok(badGrant instanceof TesseraError);
  assert.ok(badGrant.status >= 400 && badGrant.status < 500);
  const badKey = new TesseraClient({ url: server.url, apiKey: 'tsk_wrong' });
  const refused = await badKey.listSessions('carol').catch((e) => e);
  assert.equal(refused.status, 401);
  assert.equal(JSON.stringify(badKey).includes('tsk_wrong'), false, 'the key is not serialized');
  const verifyOnly = new TesseraClient({ url: server.url, apiKey: await server.apiKey('orders', 'verify') });
  // A valid key of too narrow a scope: 403, naming the scope needed.
  const narrow = await verifyOnly.createSession({ user_id: 'carol' }).catch((e) => e);
  assert.equal(narrow.status, 403);
  assert.equal(narrow.type, 'urn:tessera:problem:insufficient-scope');
  assert.equal(narrow.problem.scope, 'sessions');
});

test('only idempotent calls are retried when Tessera is unreachable', async () => {
  const fetch = countingFetch();
  const down = new TesseraClient({ url: `http://127.0.0.1:${await freePort()}`, apiKey: 'tsk_x', retries: 2, fetch });
  const e = await down.getSession('AAAAAAAAAAAAAAAAAAAAAA').catch((err) => err);
  assert.ok(e instanceof TesseraError);
  assert.equal(e.status, 0);
  assert.equal(fetch.count('/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA'), 3);
  await assert.rejects(down.refresh('tsr_x'), TesseraError);
  assert.equal(fetch.count('/v1/sessions/refresh'), 1, 'a refresh is never retried');
  await assert.rejects(down.createSession({ user_id: 'x' }), TesseraError);
  assert.equal(fetch.count('/v1/sessions'), 1, 'a create is never retried');
});

test('bad options are a clear error', () => {
  assert.throws(() => new TesseraClient({ apiKey: 'k' }), /url/);
  assert.throws(() => new TesseraClient({ url: server.url }), /apiKey/);
});

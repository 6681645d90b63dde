// The revocation feed against a fake server (an injected fetch, no `tessera serve`): a follower
// keeps the fingerprint of the entry at its cursor, and reads the feed again from its start when
// the server's `at` says that entry is gone or changed (a Redis that went back renumbers).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RevocationFeed } from '../src/feed.js';

const UNTIL = 4_000_000_000; // seconds: far in the future

/**
 * A feed server in memory, answering as Tessera does: `entries` is the feed ({ cursor, session_id,
 * until }); `fingerprints: false` plays a server older than `at`/`next_at`. `fetch` records the
 * `after` of each request; `failNext` makes the next request answer 500.
 */
function fakeServer({ fingerprints = true } = {}) {
  const server = {
    entries: [],
    fingerprints,
    afters: [],
    failNext: false,
    /** Appends revocations of `ids`, numbered after the last entry (or after `from`). */
    add(ids, from = server.entries.at(-1)?.cursor ?? 0) {
      for (const [i, id] of ids.entries()) server.entries.push({ cursor: from + i + 1, session_id: id, until: UNTIL });
    },
    /** Goes back to the state where the feed ended at `cursor` (a failover losing writes). */
    goBack(cursor) {
      server.entries = server.entries.filter((e) => e.cursor <= cursor);
    },
    purge(cursor) {
      server.entries = server.entries.filter((e) => e.cursor !== cursor);
    },
    fetch: async (url) => {
      const u = new URL(url);
      const after = Number(u.searchParams.get('after'));
      const limit = Number(u.searchParams.get('limit'));
      server.afters.push(after);
      if (server.failNext) {
        server.failNext = false;
        return new Response('{}', { status: 500 });
      }
      const fp = (e) => `${e.cursor}|${e.session_id}|${e.until}`;
      const atEntry = server.entries.find((e) => after > 0 && e.cursor === after);
      const page = server.entries.filter((e) => e.cursor > after).slice(0, limit);
      const last = page.at(-1);
      const body = { revocations: page, next_cursor: last?.cursor ?? after, more: page.length === limit };
      if (server.fingerprints) {
        body.at = atEntry ? fp(atEntry) : null;
        body.next_at = last ? fp(last) : body.at;
      }
      return Response.json(body);
    },
  };
  return server;
}

function follow(server, { pageSize = 10, now = () => 1_000_000 } = {}) {
  return new RevocationFeed({
    url: 'http://tessera.test', apiKey: 'k', intervalMs: 1000, stalenessMs: 5000, graceMs: 0,
    pageSize, fetch: server.fetch, now, onError: (e) => { throw e; },
  });
}

test('a feed that goes on: the fingerprint matches, no rewind', async () => {
  const server = fakeServer();
  server.add(['s1', 's2', 's3']);
  const feed = follow(server);
  await feed.poll();
  assert.equal(feed.cursor, 3);
  assert.equal(feed.at, '3|s3|' + UNTIL);
  server.add(['s4']);
  await feed.poll();
  assert.deepEqual(server.afters, [0, 3]);
  assert.ok(feed.has('s4'));
  assert.equal(feed.cursor, 4);
  assert.ok(feed.fresh());
});

test('a feed that went back and numbered new revocations again is read from its start', async () => {
  const server = fakeServer();
  server.add(['s1', 's2', 's3', 's4', 's5']);
  const feed = follow(server);
  await feed.poll();
  assert.equal(feed.cursor, 5);
  // A failover lost 4 and 5; the new revocations take their numbers, then one more.
  server.goBack(3);
  server.add(['new4', 'new5', 'new6']);
  server.afters.length = 0;
  await feed.poll();
  assert.deepEqual(server.afters, [5, 0], 'the answer at 5 names another entry: read again from 0');
  for (const id of ['new4', 'new5', 'new6']) assert.ok(feed.has(id), `${id} is applied`);
  for (const id of ['s1', 's4', 's5']) assert.ok(feed.has(id), `${id} is still known`);
  assert.equal(feed.cursor, 6);
  assert.ok(feed.fresh());
  // And it goes on from there without reading again.
  server.afters.length = 0;
  await feed.poll();
  assert.deepEqual(server.afters, [6]);
});

test('the entry at the cursor purged (`at: null`): read again from the start', async () => {
  const server = fakeServer();
  server.add(['s1', 's2']);
  const feed = follow(server);
  await feed.poll();
  server.purge(2);
  server.afters.length = 0;
  await feed.poll();
  assert.deepEqual(server.afters, [2, 0]);
  assert.equal(feed.cursor, 1);
  assert.ok(feed.has('s2'), 'what is known stays');
});

test('after a rewind the feed is caught up only when the re-read reaches the end', async () => {
  const server = fakeServer();
  server.add(['s1', 's2', 's3']);
  let clock = 1_000_000;
  const feed = follow(server, { pageSize: 1, now: () => clock });
  await feed.poll();
  assert.equal(feed.caughtUpAt, 1_000_000);
  server.goBack(1);
  server.add(['new2', 'new3', 'new4']);
  server.afters.length = 0;
  clock += 1000;
  // The re-read's second page fails: the poll ends without catching up.
  const fetch = server.fetch;
  let calls = 0;
  feed.fetch = async (url, init) => {
    calls += 1;
    if (calls === 3) server.failNext = true;
    return fetch(url, init);
  };
  await assert.rejects(feed.poll(), /500/);
  assert.deepEqual(server.afters, [3, 0, 1]);
  assert.equal(feed.caughtUpAt, 1_000_000, 'not caught up by the interrupted re-read');
  clock += 1000;
  server.afters.length = 0;
  await feed.poll();
  assert.deepEqual(server.afters, [1, 2, 3, 4], 'the re-read goes on from where it stopped');
  assert.equal(feed.caughtUpAt, 1_002_000);
  for (const id of ['new2', 'new3', 'new4']) assert.ok(feed.has(id));
});

test('at most one rewind per poll: a purge racing the re-read does not loop', async () => {
  const answers = [
    { revocations: [], next_cursor: 5, more: false, at: 'gone', next_at: 'gone' }, // after=5: mismatch
    { revocations: [{ cursor: 2, session_id: 'a', until: UNTIL }], next_cursor: 2, more: true, at: null, next_at: 'fp2' },
    // after=2: the entry at 2 was purged meanwhile; the page is taken as it is.
    { revocations: [{ cursor: 3, session_id: 'b', until: UNTIL }], next_cursor: 3, more: false, at: null, next_at: 'fp3' },
  ];
  const afters = [];
  const feed = follow({
    fetch: async (url) => {
      afters.push(Number(new URL(url).searchParams.get('after')));
      return Response.json(answers.shift());
    },
  });
  feed.cursor = 5;
  feed.at = 'fp5';
  await feed.poll();
  assert.deepEqual(afters, [5, 0, 2]);
  assert.ok(feed.has('a') && feed.has('b'));
  assert.equal(feed.cursor, 3);
  assert.equal(feed.at, 'fp3');
  assert.ok(feed.fresh());
});

test('an older server without `at`/`next_at`: nothing is checked, as before', async () => {
  const server = fakeServer({ fingerprints: false });
  server.add(['s1', 's2', 's3']);
  const feed = follow(server);
  await feed.poll();
  assert.equal(feed.at, undefined);
  server.goBack(1);
  server.add(['new2', 'new3', 'new4']);
  server.afters.length = 0;
  await feed.poll();
  assert.deepEqual(server.afters, [3], 'no way to tell: the cursor goes on');
  assert.ok(feed.has('new4') && !feed.has('new2'));
  // The server is upgraded: the fingerprint kept is unknown, so the feed is read again once.
  server.fingerprints = true;
  server.afters.length = 0;
  await feed.poll();
  assert.deepEqual(server.afters, [4, 0]);
  assert.ok(feed.has('new2') && feed.has('new3'));
  server.afters.length = 0;
  await feed.poll();
  assert.deepEqual(server.afters, [4]);
});

test('a fingerprint that is not a string is an unexpected body', async () => {
  const feed = follow({ fetch: async () => Response.json({ revocations: [], next_cursor: 0, more: false, at: 5 }) });
  await assert.rejects(feed.poll(), /unexpected body/);
});

/**
 * A server answering `answers` in turn (a sharded Redis: a feed per shard, a string cursor);
 * `urls` records each URL requested, to show what was handed back as `after`.
 */
function scripted(answers) {
  const server = {
    urls: [],
    fetch: async (url) => {
      server.urls.push(url);
      return Response.json(answers.shift());
    },
  };
  return server;
}

const urlAfter = (after) => `http://tessera.test/v1/revocations?after=${after}&limit=10`;

test('a sharded feed: string cursors are handed back as `after` as they came', async () => {
  const entry = (cursor, feed, id) => ({ cursor, session_id: id, until: UNTIL, feed });
  const server = scripted([
    { revocations: [entry(1, 0, 's1'), entry(1, 2, 's2')], next_cursor: '1.0.1', more: true, at: 'start', next_at: 'fp-a' },
    { revocations: [entry(1, 1, 's3')], next_cursor: '1.1.1', more: false, at: 'fp-a', next_at: 'fp-b' },
    // The next poll: nothing new, the cursor stays.
    { revocations: [], next_cursor: '1.1.1', more: false, at: 'fp-b', next_at: 'fp-b' },
    { revocations: [entry(12, 2, 's4')], next_cursor: '1.1.12', more: false, at: 'fp-b', next_at: 'fp-c' },
  ]);
  const feed = follow(server);
  await feed.poll();
  assert.deepEqual(server.urls, [urlAfter('0'), urlAfter('1.0.1')]);
  assert.equal(feed.cursor, '1.1.1');
  assert.equal(feed.at, 'fp-b');
  for (const id of ['s1', 's2', 's3']) assert.ok(feed.has(id), `${id} is applied`);
  assert.ok(feed.fresh());
  await feed.poll();
  await feed.poll();
  assert.deepEqual(server.urls, [urlAfter('0'), urlAfter('1.0.1'), urlAfter('1.1.1'), urlAfter('1.1.1')]);
  assert.ok(feed.has('s4'));
  assert.equal(feed.cursor, '1.1.12');
  assert.equal(feed.at, 'fp-c');
});

test('a sharded feed that went back is read again from after=0', async () => {
  const entry = (cursor, feed, id) => ({ cursor, session_id: id, until: UNTIL, feed });
  const server = scripted([
    { revocations: [entry(3, 0, 's1'), entry(2, 2, 's2')], next_cursor: '3.0.2', more: false, at: 'start', next_at: 'fp-3.0.2' },
    // A failover lost writes: the entries at 3.0.2 are others now.
    { revocations: [], next_cursor: '3.0.2', more: false, at: 'fp-other', next_at: 'fp-other' },
    { revocations: [entry(1, 0, 'new1'), entry(1, 1, 'new2')], next_cursor: '1.1.0', more: false, at: 'start', next_at: 'fp-1.1.0' },
    // And it goes on from there without reading again.
    { revocations: [], next_cursor: '1.1.0', more: false, at: 'fp-1.1.0', next_at: 'fp-1.1.0' },
  ]);
  const feed = follow(server);
  await feed.poll();
  assert.equal(feed.cursor, '3.0.2');
  await feed.poll();
  assert.deepEqual(server.urls, [urlAfter('0'), urlAfter('3.0.2'), urlAfter('0')], 'the answer at 3.0.2 names another entry: read again from 0');
  assert.equal(feed.cursor, '1.1.0');
  assert.equal(feed.at, 'fp-1.1.0');
  for (const id of ['new1', 'new2', 's1', 's2']) assert.ok(feed.has(id), `${id} is known`);
  assert.ok(feed.fresh());
  await feed.poll();
  assert.deepEqual(server.urls.slice(3), [urlAfter('1.1.0')]);
});

test('a cursor that is neither an integer nor numbers joined by dots fails closed', async () => {
  // On the first page: the feed never catches up, so nothing is vouched for.
  const first = follow(scripted([{ revocations: [], next_cursor: { feeds: [0, 0] }, more: false, at: null, next_at: null }]));
  await assert.rejects(first.poll(), /unexpected body/);
  assert.equal(first.cursor, 0);
  assert.ok(!first.fresh());
  // Later: the page is refused as a whole, the cursor stays, and the feed goes stale.
  for (const bad of ['1.x', '', '1..2', '.1', '1.', '-1', ' 1', '1.0\n', '1e3', '١.٢', 1.5, true, null, [1, 0], { feeds: [1, 0] }]) {
    const server = scripted([
      { revocations: [{ cursor: 1, session_id: 's1', until: UNTIL, feed: 0 }], next_cursor: '1.0', more: false, at: 'start', next_at: 'fp-1.0' },
      { revocations: [{ cursor: 1, session_id: 's2', until: UNTIL, feed: 1 }], next_cursor: bad, more: false, at: 'fp-1.0', next_at: 'fp-x' },
    ]);
    let clock = 1_000_000;
    const feed = follow(server, { now: () => clock });
    await feed.poll();
    clock += 6_000; // past the staleness bound
    await assert.rejects(feed.poll(), /unexpected body/, `next_cursor ${JSON.stringify(bad)}`);
    assert.deepEqual(server.urls, [urlAfter('0'), urlAfter('1.0')]);
    assert.equal(feed.cursor, '1.0', 'the cursor stays');
    assert.equal(feed.at, 'fp-1.0');
    assert.ok(!feed.has('s2'), 'nothing of the page is applied');
    assert.ok(!feed.fresh(), 'not caught up: requests fail closed');
  }
});

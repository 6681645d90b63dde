// A real `tessera serve` for the tests: TLS on a free loopback port (the `__Host-` cookie needs
// HTTPS), a temp data dir, accounts and a verify-scoped key made with the CLI before it starts.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { request } from 'playwright-core';

import { cleanEnv, freePort } from '../../../tests/support/tessera.mjs';

export const PASSWORD = 'correct horse battery';



function waitForListening(child) {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`tessera did not start in 30 s:\n${log}`)), 30_000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`tessera exited with ${code}:\n${log}`)));
  });
}

/**
 * Starts Tessera with `users` (each with PASSWORD) and the shortest access-token lifetime, plus
 * the settings of `env` (TESSERA_CORS_ORIGINS, say).
 * @returns the origin, the accounts' ids, API clients with a sessions and a verify key, the TLS
 *   certificate and key (PEM; SAN IP:127.0.0.1), `stop()`
 */
export async function startTessera(bin, users, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-kit-browser-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '1', '-subj', '/CN=tessera-test', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd: dir, stdio: 'ignore' });
  const cli = (args, input) => execFileSync(bin, args, { cwd: dir, env: cleanEnv({}), input, encoding: 'utf8', stdio: 'pipe' }).trim();
  const ids = Object.fromEntries(users.map((u) => [u, cli(['users', 'create', u], `${PASSWORD}\n`).match(/usr_\S+/)?.[0]]));
  const verifyKey = cli(['api-key', 'create', '--name', 'app', '--scope', 'verify']).match(/tsk_\S+/)?.[0];
  const backendKey = cli(['api-key', 'create', '--name', 'backend', '--scope', 'sessions']).match(/tsk_\S+/)?.[0];
  if (!verifyKey || !backendKey) throw new Error('`tessera api-key create` printed no tsk_ key');
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: cleanEnv({
      TESSERA_TLS_CERT: 'cert.pem',
      TESSERA_TLS_KEY: 'key.pem',
      TESSERA_PUBLIC_ORIGIN: base,
      TESSERA_ACCESS_TTL: '10s', // the least the server accepts: the tests wait out expiries
      ...env,
    }),
  });
  await waitForListening(child);
  const client = (key) => request.newContext({
    baseURL: base,
    ignoreHTTPSErrors: true,
    extraHTTPHeaders: { Authorization: `Bearer ${key}` },
  });
  return {
    base,
    ids,
    tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) },
    backend: await client(backendKey),
    verifier: await client(verifyKey),
    async stop() {
      await new Promise((done) => {
        child.once('exit', done);
        child.kill();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

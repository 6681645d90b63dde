// What every JavaScript test suite of the repository needs to run a real `tessera serve` and
// a real Chromium: the browser tests of the pages (tests/browser) and the kits' tests
// (clients/node, clients/browser, examples/express). Test code only, never packed.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** The environment without the caller's TESSERA_* settings (a test names its own), plus `extra`. */
export function cleanEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TESSERA_')));
  return { ...env, ...extra };
}

/**
 * Debian's Chromium under playwright-core, quiet and trusting the tests' self-signed certificates.
 * `chromium` is the caller's playwright-core export (each suite pins its own).
 */
export function launchChromium(chromium, executablePath) {
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
  });
}

/** Resolves once `child` (a `tessera serve`) logs that it listens; rejects if it exits first. */
function listening(child) {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`tessera did not start in 30 s:\n${log}`)), 30_000);
    const exited = (code) => {
      clearTimeout(timer);
      reject(new Error(`tessera exited with ${code}:\n${log}`));
    };
    child.on('exit', exited);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('listening')) {
        clearTimeout(timer);
        child.off('exit', exited);
        resolve();
      }
    });
  });
}

/**
 * A real `tessera serve` over TLS, so the `__Host-` cookies are exactly what production sends:
 * a free loopback port, a temp dir holding a self-signed certificate for 127.0.0.1 and the
 * SQLite data, the settings of `env` on a clean environment. The accounts `users` are made
 * first with the CLI, each with `password`.
 * @returns `base` (the origin), `cli(args, input)` running another `tessera` command with the
 *   server's directory and environment (so on its data; the first line of its output), `stop()`
 */
export async function startTlsTessera(bin, { env = {}, users = [], password } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-browser-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-days', '1', '-subj', '/CN=tessera-test', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd: dir, stdio: 'ignore' });
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const serverEnv = cleanEnv({ TESSERA_TLS_CERT: 'cert.pem', TESSERA_TLS_KEY: 'key.pem', TESSERA_PUBLIC_ORIGIN: base, ...env });
  const cli = (args, input) => execFileSync(bin, args, { cwd: dir, env: serverEnv, input, encoding: 'utf8', stdio: 'pipe' })
    .split('\n')[0].trim();
  for (const user of users) cli(['users', 'create', user], `${password}\n`);
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`], { cwd: dir, env: serverEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  await listening(child);
  return {
    base,
    cli,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise((done) => {
          child.once('exit', done);
          child.kill();
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

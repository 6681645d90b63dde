// Starts a real `tessera serve` for the tests: a temp data dir, a free loopback port, the
// admin key read from `<data dir>/admin-api-key`. TESSERA_BIN names the binary.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cleanEnv, freePort } from '../../../tests/support/tessera.mjs';

export { freePort };

const bin = process.env.TESSERA_BIN ?? '/var/tmp/tessera-bin/tessera';

/** A Tessera server in a temp dir. `start()` it, `stop()` it, `start()` it again on the same port. */
export class TesseraServer {
  constructor(env = {}) {
    if (!existsSync(bin)) {
      throw new Error(`no tessera binary at ${bin}: build it (cargo build -p tessera-server) and set TESSERA_BIN`);
    }
    this.dir = mkdtempSync(join(tmpdir(), 'tessera-node-'));
    this.env = env;
    this.child = null;
  }

  /** Starts the server and waits until it listens. */
  async start() {
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const args = ['serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dir];
    const child = spawn(bin, args, { cwd: this.dir, env: cleanEnv(this.env), stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    await new Promise((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`tessera did not start:\n${log}`)), 30_000);
      const onExit = (code) => reject(new Error(`tessera exited with ${code}:\n${log}`));
      child.on('exit', onExit);
      child.stderr.on('data', (chunk) => {
        log += chunk;
        if (log.includes('listening')) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve();
        }
      });
    });
    this.adminKey = readFileSync(join(this.dir, 'admin-api-key'), 'utf8').trim();
    return this;
  }

  /** Stops the server and waits for it to exit. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = null;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** Runs a `tessera` command on this server's data dir (the server should be stopped). */
  cli(...args) {
    return execFileSync(bin, [...args, '--data-dir', this.dir], { cwd: this.dir, env: cleanEnv(this.env), encoding: 'utf8' });
  }

  /** Makes a named API key with `scope` over HTTP (with the admin key). */
  async apiKey(name, scope) {
    const res = await fetch(`${this.url}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, scope }),
    });
    const body = await res.json();
    if (res.status !== 201 && res.status !== 200) throw new Error(`cannot make API key: ${res.status} ${JSON.stringify(body)}`);
    return body.key ?? body.api_key;
  }

  /** Stops the server and removes its data. */
  async destroy() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

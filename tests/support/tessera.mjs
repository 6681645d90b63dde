// What every JavaScript test suite of the repository needs to run a real `tessera serve` and
// a real Chromium: the browser tests of the pages (tests/browser) and the kits' tests
// (clients/node, clients/browser, examples/express). Test code only, never packed.

import net from 'node:net';

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

// The test app, served on the Tessera origin itself by intercepting paths in the browser (so it
// is same-origin without touching the server): a page that loads the kit from src/, an API of
// the app whose handlers check the bearer token with the real Tessera, and a log of every
// request to both.

import { readFileSync } from 'node:fs';

const src = new URL('../src/', import.meta.url);

const PAGE = `<!doctype html><meta charset="utf-8"><title>kit test</title>
<script type="module">
import { Tessera, TesseraError } from '/__kit/src/index.js';
window.TesseraError = TesseraError;
window.events = [];
window.tessera = new Tessera();
for (const type of ['signedin', 'signedout']) tessera.addEventListener(type, () => events.push(type));
window.ready = true;
</script>`;

function header(request, name) {
  return request.headers()[name] ?? null;
}

/**
 * Routes `context`'s requests for the app, and counts them.
 * @param context a playwright browser context
 * @param tessera what startTessera returned
 * @returns `log`: one entry per request to the app's API or to /auth/refresh
 */
export async function serveApp(context, tessera) {
  const log = [];
  const note = (route) => {
    const r = route.request();
    const entry = {
      path: new URL(r.url()).pathname,
      method: r.method(),
      authorization: header(r, 'authorization'),
      csrf: header(r, 'x-csrf-token'),
      body: r.postData(),
    };
    log.push(entry);
    return entry;
  };
  await context.route(`${tessera.base}/__kit/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/__kit/app.html') return route.fulfill({ contentType: 'text/html', body: PAGE });
    const file = path.match(/^\/__kit\/src\/([a-z]+\.js)$/)?.[1];
    if (!file) return route.fulfill({ status: 404, body: 'no such file' });
    return route.fulfill({ contentType: 'text/javascript', body: readFileSync(new URL(file, src)) });
  });
  await context.route(`${tessera.base}/auth/refresh`, (route) => {
    note(route);
    return route.continue();
  });
  // The app's API: `/__api/flaky` refuses its first request, `/__api/deny` every one, and every
  // other answers who the verified token names (401 if Tessera does not verify it).
  let flaky = 0;
  await context.route(`${tessera.base}/__api/**`, async (route) => {
    const entry = note(route);
    const refuse = () => route.fulfill({ status: 401, json: { title: 'Unauthorized' } });
    if (entry.path === '/__api/deny' || (entry.path === '/__api/flaky' && flaky++ === 0)) return refuse();
    const token = entry.authorization?.match(/^Bearer (.+)$/)?.[1];
    if (!token) return refuse();
    const verified = await tessera.verifier.post('/v1/sessions/verify', { data: { access_token: token } });
    if (!verified.ok()) return refuse();
    return route.fulfill({ json: (await verified.json()).claims });
  });
  return { log, url: `${tessera.base}/__kit/app.html` };
}

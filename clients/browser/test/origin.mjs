// The test app on an origin of its own (https://127.0.0.1:<its port>), Tessera on another: a
// real HTTPS server, not route interception, because playwright answers every CORS preflight
// itself (permissively) once a route is installed, which would hide Tessera's own answers.
// It serves a page that loads the kit from src/ with `baseUrl` set to Tessera, and an API whose
// handlers check the bearer token with the real Tessera. What the browser sends to Tessera,
// preflights included, is watched over the DevTools protocol (watching intercepts nothing).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const src = new URL('../src/', import.meta.url);

const page = (tesseraBase) => `<!doctype html><meta charset="utf-8"><title>kit test, cross-origin</title>
<script type="module">
import { Tessera, TesseraError } from '/src/index.js';
window.TesseraError = TesseraError;
window.events = [];
window.tessera = new Tessera({ baseUrl: ${JSON.stringify(tesseraBase)} });
for (const type of ['signedin', 'signedout']) tessera.addEventListener(type, () => events.push(type));
window.ready = true;
</script>`;

/**
 * An app server listening on a free loopback port, without TLS until `serve` gives it the
 * certificate (so that its origin is known before Tessera starts with it in cors_origins).
 */
export async function listenApp() {
  const server = createServer();
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const origin = `https://127.0.0.1:${server.address().port}`;
  /** One entry per request to the app's API. */
  const log = [];
  return {
    origin,
    url: `${origin}/app.html`,
    log,
    /** Serves the app against `tessera` (what startTessera returned), with its certificate. */
    serve(tessera) {
      server.setSecureContext(tessera.tls);
      server.on('request', async (req, res) => {
        const path = new URL(req.url, origin).pathname;
        const send = (status, type, body) => res.writeHead(status, { 'Content-Type': type }).end(body);
        if (path === '/app.html') return send(200, 'text/html', page(tessera.base));
        const file = path.match(/^\/src\/([a-z]+\.js)$/)?.[1];
        if (file) return send(200, 'text/javascript', readFileSync(new URL(file, src)));
        if (!path.startsWith('/api/')) return send(404, 'text/plain', 'no such file');
        const entry = { path, method: req.method, authorization: req.headers.authorization ?? null };
        log.push(entry);
        const token = entry.authorization?.match(/^Bearer (.+)$/)?.[1];
        const verified = token && await tessera.verifier.post('/v1/sessions/verify', { data: { access_token: token } });
        if (!verified?.ok()) return send(401, 'application/json', '{"title":"Unauthorized"}');
        return send(200, 'application/json', JSON.stringify((await verified.json()).claims));
      });
    },
    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(done);
    }),
  };
}

/**
 * Records what `page` sends to `base` (Tessera), preflights included, as the browser sends it:
 * `{ id, url, path, method, preflight, headers, status, responseHeaders, failed }`, headers
 * lowercased; `headers` are those on the wire (the cookie too) once Chromium reported them.
 */
export async function watch(context, page, base) {
  const seen = [];
  const byId = new Map();
  const cdp = await context.newCDPSession(page);
  const lower = (h) => Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const entry = (id) => {
    if (!byId.has(id)) byId.set(id, { id, headers: {} });
    return byId.get(id);
  };
  cdp.on('Network.requestWillBeSent', ({ requestId, request, initiator }) => {
    if (!request.url.startsWith(`${base}/`)) return;
    const e = entry(requestId);
    Object.assign(e, {
      url: request.url,
      path: new URL(request.url).pathname,
      method: request.method,
      preflight: initiator?.type === 'preflight',
      headers: { ...lower(request.headers), ...e.headers },
    });
    seen.push(e);
  });
  cdp.on('Network.requestWillBeSentExtraInfo', ({ requestId, headers }) => {
    const e = entry(requestId);
    e.headers = { ...e.headers, ...lower(headers) };
  });
  cdp.on('Network.responseReceived', ({ requestId, response }) => {
    const e = entry(requestId);
    e.status = response.status;
    e.responseHeaders = { ...lower(response.headers), ...e.responseHeaders };
  });
  cdp.on('Network.responseReceivedExtraInfo', ({ requestId, statusCode, headers }) => {
    const e = entry(requestId);
    e.status ??= statusCode;
    e.responseHeaders = { ...lower(headers), ...e.responseHeaders };
  });
  cdp.on('Network.loadingFailed', ({ requestId, errorText, corsErrorStatus }) => {
    entry(requestId).failed = corsErrorStatus?.corsError ?? errorText;
  });
  await cdp.send('Network.enable');
  return seen;
}

// The app: sign-in checked here, sessions on Tessera. The refresh token lives in an HttpOnly
// `__Host-` cookie; the page keeps the short-lived access token in memory and sends it as a
// Bearer token; cookie-authenticated calls (refresh, logout) need the CSRF header.

import express from 'express';
import { TesseraError } from 'tessera-node';

import { perSession } from './rate-limit.js';

const problem = (res, status, title, detail) =>
  res.status(status).type('application/problem+json').json({ type: 'about:blank', title, status, detail });

/** The Express app on `tessera` (middleware), `client` (backend calls) and `cookies`. */
export function createApp({ tessera, client, cookies, users, perMinute }) {
  const app = express();
  app.use(express.json({ limit: '8kb' }));
  const signedIn = (res, tokens) =>
    res.json({ access_token: tokens.access_token, expires_in: tokens.expires_in, csrf_token: cookies.setSessionCookies(res, tokens) });

  app.post('/auth/login', async (req, res) => {
    const user = await users.check(req.body?.user, req.body?.password);
    if (!user) return problem(res, 401, 'Sign-in failed', 'wrong user name or password');
    const device = { user_agent: req.get('user-agent')?.slice(0, 256), ip: req.ip };
    signedIn(res, await client.createSession({ user_id: user.id, claims: { name: user.name }, device }));
  });

  app.post('/auth/refresh', cookies.csrfProtection(), async (req, res) => {
    const current = cookies.readRefreshCookie(req);
    if (!current) return problem(res, 401, 'Not signed in', 'no session cookie');
    try {
      signedIn(res, await client.refresh(current.refresh_token));
    } catch (e) {
      if (!(e instanceof TesseraError) || e.status >= 500 || e.status === 0 || e.status === 429) throw e;
      cookies.clearSessionCookies(res);
      problem(res, 401, 'Session ended', 'sign in again');
    }
  });

  app.post('/auth/logout', cookies.csrfProtection(), async (req, res) => {
    const current = cookies.readRefreshCookie(req);
    if (current) await client.revokeSession(current.session_id).catch(ignoreEnded);
    cookies.clearSessionCookies(res);
    res.status(204).end();
  });

  app.post('/auth/logout-all', tessera.requireSession(), cookies.csrfProtection(), async (req, res) => {
    await client.revokeUserSessions(req.session.sub);
    cookies.clearSessionCookies(res);
    res.status(204).end();
  });

  app.get('/api/me', tessera.requireSession(), perSession(perMinute), (req, res) => {
    res.json({ user_id: req.session.sub, name: req.session.name, session_id: req.session.sid });
  });

  app.get('/api/sessions', tessera.requireSession(), perSession(perMinute), async (req, res) => {
    const sessions = await client.listSessions(req.session.sub);
    res.json(sessions.map((s) => ({ session_id: s.session_id, device: s.device, current: s.session_id === req.session.sid })));
  });

  app.use((err, req, res, next) => {
    console.error(`${req.method} ${req.path}: ${err.message}`); // never the tokens
    problem(res, 503, 'Try again later', 'the session service is unavailable');
  });
  return app;
}

/** A session that is already gone (404) or revoked (410) is logged out already. */
function ignoreEnded(e) {
  if (!(e instanceof TesseraError) || (e.status !== 404 && e.status !== 410)) throw e;
}

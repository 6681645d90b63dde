// Type-checked by `tsc --noEmit` (never run): the kit as a TypeScript app uses it.

import express from 'express';
import { TesseraClient, TesseraError, cookieSession, createTessera } from 'tessera-node';
import type { SessionClaims, SessionView, Tokens } from 'tessera-node';

const tessera = createTessera({ url: 'http://127.0.0.1:8080', apiKey: 'tsk_verify', feedStalenessMs: 5000 });
const client = new TesseraClient({ url: 'http://127.0.0.1:8080', apiKey: 'tsk_backend' });
const cookies = cookieSession({ secret: Buffer.alloc(32) });

const app = express();
app.get('/me', tessera.requireSession(), (req, res) => {
  const claims: SessionClaims | undefined = req.session;
  const sub: string | undefined = claims?.sub;
  res.json({ sub, role: claims?.role });
});
app.get('/maybe', tessera.optionalSession(), (req, res) => res.json({ signedIn: req.session !== undefined }));
app.post('/login', async (_req, res) => {
  const tokens: Tokens = await client.createSession({ user_id: 'alice', claims: { role: 'admin' } });
  const csrf: string = cookies.setSessionCookies(res, tokens);
  res.json({ access_token: tokens.access_token, csrf });
});
app.post('/logout', cookies.csrfProtection(), async (req, res) => {
  const current = cookies.readRefreshCookie(req);
  try {
    if (current) await client.revokeSession(current.session_id);
  } catch (e) {
    if (e instanceof TesseraError) console.log(e.status, e.problem.title);
  }
  cookies.clearSessionCookies(res);
  res.status(204).end();
});

async function other(): Promise<void> {
  await tessera.ready();
  const sessions: SessionView[] = await client.listSessions('alice');
  const revoked: string[] = await client.revokeUserSessions('alice', { except: sessions[0]?.session_id });
  const { version } = await client.updateSession('sid', 3, { claims: { role: 'reader' } });
  console.log(revoked, version);
  tessera.close();
}
void other;

// `npm start`: the example app on Tessera. Settings come from the environment (see README.md).

import { randomBytes } from 'node:crypto';

import { TesseraClient, cookieSession, createTessera } from 'tessera-node';

import { createApp } from './app.js';
import { demoUsers } from './users.js';

const env = process.env;
const url = env.TESSERA_URL ?? 'http://127.0.0.1:8080';
if (!env.TESSERA_API_KEY || !env.TESSERA_VERIFY_KEY) {
  console.error('set TESSERA_API_KEY (tessera api-key create --name app --scope sessions) and TESSERA_VERIFY_KEY (tessera api-key create --name app-verify --scope verify)');
  process.exit(2);
}

const client = new TesseraClient({ url, apiKey: env.TESSERA_API_KEY });
const tessera = createTessera({ url, apiKey: env.TESSERA_VERIFY_KEY, onError: (e) => console.error(`tessera: ${e.message}`) });
const cookies = cookieSession({ secret: env.APP_SECRET ?? randomBytes(32), secure: env.COOKIE_SECURE !== 'false' });
const users = await demoUsers(env.DEMO_PASSWORD ?? 'correct horse battery staple');
const app = createApp({ tessera, client, cookies, users, perMinute: Number(env.RATE_LIMIT_PER_MINUTE ?? 60) });

const port = Number(env.PORT ?? 3000);
const server = app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    tessera.close();
    server.close(() => process.exit(0));
  });
}

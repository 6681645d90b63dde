// The app's own users: one in-memory demo account, its password checked with scrypt. A real
// app has its user table here; Tessera only ever sees the user id.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const hash = promisify(scrypt);
const KEY_LEN = 32;

async function record(id, name, password) {
  const salt = randomBytes(16);
  return { id, name, salt, key: await hash(password, salt, KEY_LEN) };
}

/** The user store: `check(name, password)` answers the user or null. */
export async function demoUsers(password) {
  const users = new Map([['alice', await record('user-1', 'Alice', password)]]);
  const nobody = await record('', '', randomBytes(16).toString('hex')); // same work for unknown names
  return {
    async check(name, given) {
      const user = (typeof name === 'string' && users.get(name.toLowerCase())) || nobody;
      const key = await hash(String(given ?? ''), user.salt, KEY_LEN);
      return timingSafeEqual(key, user.key) && user !== nobody ? user : null;
    },
  };
}

// Compiled by scripts/test (tsc --noEmit --strict): index.d.ts describes what an app writes.
import { Tessera, TesseraError, type Me } from '@tessera/browser';

const tessera = new Tessera({ baseUrl: 'https://auth.example.com', tokenOrigins: ['https://api.example.com'], skew: 20 });
tessera.addEventListener('signedout', (event: Event) => console.log('signed out', event.type));
tessera.addEventListener('signedin', (event) => console.log('signed in as', event.detail?.login));

export async function main(): Promise<void> {
  const signedIn: boolean | null = tessera.signedIn;
  let me: Me | null = await tessera.me();
  if (!me) {
    try {
      me = await tessera.signIn('alice', 'correct horse battery');
    } catch (e) {
      if (e instanceof TesseraError && e.status === 401) console.log(e.problem?.detail);
      throw e;
    }
  }
  const token: string | null = await tessera.token();
  const response: Response = await tessera.fetch('https://api.example.com/orders', { method: 'POST', body: '{}' });
  console.log(signedIn, me.user_id, me.session_id, token, response.status);
  await tessera.signOut();
  tessera.close();
}

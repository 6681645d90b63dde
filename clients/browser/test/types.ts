// Compiled by scripts/test (tsc --noEmit --strict): index.d.ts describes what an app writes.
import { Tessera, TesseraError, type Device, type Me } from '@tessera/browser';

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
  const devices: Device[] = await tessera.devices();
  const others = devices.filter((d) => !d.current).map((d) => d.session_id);
  if (others[0]) await tessera.signOutDevice(others[0]);
  const signedOut: number = await tessera.signOutOthers();
  await tessera.changePassword('correct horse battery', 'battery staple horse correct');
  console.log(signedOut, devices[0]?.last_seen_at.toFixed());
  await tessera.signOut();
  tessera.close();
}

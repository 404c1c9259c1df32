// A port to name in advance, for listeners that cannot take port 0.
import { createServer } from 'node:net';

/**
 * A TCP port free right now (bound on port 0, then closed), by default on every address: for
 * a listener whose port must be named in advance (an API port across a restart, a VIP's
 * port), so that it cannot meet a port another program holds.
 */
export async function freePort(host = '0.0.0.0'): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

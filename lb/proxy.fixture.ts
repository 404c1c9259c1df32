// A TCP backend for the proxy's tests (proxy.test.ts, proxy-pool.test.ts): it says its name,
// then echoes lines prefixed with it; closed with the test.
import net from 'node:net';

type Teardown = { teardown(fn: () => unknown): void };

/** A TCP backend that says its name, then echoes lines prefixed with it. */
export async function tcpBackend(t: Teardown, name: string, port = 0): Promise<{ port: number; server: net.Server }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => {});
    c.write(`${name}\n`);
    c.on('data', (d) => c.write(`${name} ${String(d).trim()}\n`));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, server };
}

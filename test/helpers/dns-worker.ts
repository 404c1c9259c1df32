// A DNS server with a real worker process (dns/worker-pool.ts) for the dns/ tests: on
// loopback, web.svc.weft.internal -> 10.1.0.1, and a client socket; both go with the test.
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { DnsServer, type DnsServerOptions } from '../../dns/server.js';
import { endpoint, newStore } from './dns.js';

export async function serverWithWorker(
  t: Test,
  opts: Partial<DnsServerOptions>,
): Promise<{ dns: DnsServer; port: number; client: dgram.Socket }> {
  const store = newStore('n1');
  store.put('svc/web/n1/a', endpoint('web', ['10.1.0.1']));
  const dns = await DnsServer.start({
    source: store,
    listen: [{ addr: '127.0.0.1', port: 0 }],
    forward: false,
    workers: 1,
    // The compiled worker (npx tsc -p tsconfig.json): started through tap's TypeScript loader it takes tens of seconds here.
    workerScript: fileURLToPath(new URL('../../dist/dns/worker.js', import.meta.url)),
    ...opts,
  });
  t.teardown(() => dns.stop());
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => client.close());
  return { dns, port: dns.addresses[0].port, client };
}

// Part of `npm run bench -- dns`: weft's DNS server in a process of its own (so the bench
// harness does not share its event loop), serving BENCH_DNS_SERVICES services from a real
// LocalStore. Prints one JSON line {"port":N} when it answers; exits when stdin closes.
//   node dist/bench/dns-server.js <addr> <services> <endpoints-per-service> [upstream host:port]
import { LocalStore } from '../crdt-store/index.js';
import { DnsServer } from '../dns/index.js';
import { endpointKey } from '../records/schema.js';
import { benchAddr } from './dns-data.js';

const [addr = '127.0.0.1', servicesArg = '1000', perArg = '2', upstream] = process.argv.slice(2);
const services = Number(servicesArg);
const per = Number(perArg);
const store = new LocalStore({ name: 'bench', clock: () => Date.now() });
store.put('node/bench', { addr: '10.0.0.1' });
store.batch(() => {
  for (let s = 0; s < services; s++) {
    for (let e = 0; e < per; e++) {
      store.put(endpointKey(`s${s}`, 'bench', `c${e}`), {
        service: `s${s}`,
        addrs: [benchAddr(s, e)],
        ports: { http: { port: 8080, proto: 'tcp' } },
        health: 'none',
        vips: [],
        source: 'api',
      });
    }
  }
});

const dns = await DnsServer.start({
  source: store,
  listen: [{ addr, port: 0 }],
  nodeName: 'bench',
  upstreams: upstream ? [upstream] : [],
  forward: upstream !== undefined,
  // BENCH_DNS_WORKERS: dns.workers (default: the agent's default).
  workers: process.env.BENCH_DNS_WORKERS ? Number(process.env.BENCH_DNS_WORKERS) : undefined,
  log: { debug() {}, info() {}, warn: (o, m) => console.error(m, o), error: (o, m) => console.error(m, o) },
});
process.stdout.write(JSON.stringify({ port: dns.addresses[0].port, names: dns.zone.stats.names }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => void dns.stop().then(() => process.exit(0)));
process.on('SIGTERM', () => void dns.stop().then(() => process.exit(0)));

// Part of `npm run bench -- lb`: weft's userspace proxy in a process of its own (started
// inside the client's network namespace). argv[2]: JSON { port, workers, backends: [addr, port][] }.
// Prints one JSON line { listen } once it listens; runs until killed.
import { LocalStore } from '../crdt-store/local-store.js';
import { LbDriver } from '../lb/index.js';

const cfg = JSON.parse(process.argv[2]) as { port: number; workers: number; backends: [string, number][] };
const store = new LocalStore({ name: 'bench', clock: () => Date.now() });
cfg.backends.forEach(([addr, port], i) =>
  store.put(`svc/web/bench/${i}`, {
    service: 'web',
    addrs: [addr],
    ports: {},
    health: 'none',
    vips: [{ vip: 'web', port: cfg.port, proto: 'tcp', targetPort: port }],
    source: 'api',
  }),
);
const lb = await LbDriver.start({ source: store, datapath: 'userspace', proxyWorkers: cfg.workers });
console.log(JSON.stringify({ listen: lb.dnsVips.get('web'), status: lb.status().vips[0] }));

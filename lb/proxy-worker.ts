// A cluster worker of the userspace proxy: the same UserspaceProxy as in-process, fed its
// VIPs by the pool (proxy-pool.ts) over IPC. Its listeners share the pool's listening
// sockets (node:cluster, SCHED_NONE), so the kernel hands each new connection to whichever
// worker accepts first. It reports its counters to the pool, and exits when the pool says
// stop or the IPC channel closes (the agent died): a worker never outlives its agent.
import cluster from 'node:cluster';
import { DEFAULTS } from './defaults.js';
import { UserspaceProxy } from './proxy.js';
import { listenerId, WORKER_OPTIONS_ENV, type FromWorker, type ToWorker, type WorkerOptions } from './proxy-ipc.js';

if (!cluster.isWorker || !process.send) {
  console.error('lb/proxy-worker runs as a cluster worker of the load balancer, not on its own');
  process.exit(2);
}

// Clients that reset or vanish make socket errors by the thousand, each capturing a stack
// trace nobody reads (the proxy's profile showed it per connection); this process has no other use for them.
Error.stackTraceLimit = 0;

const opts = JSON.parse(process.env[WORKER_OPTIONS_ENV] ?? '{}') as WorkerOptions;
const send = (m: FromWorker): void => {
  if (process.connected) process.send!(m);
};
const proxy = new UserspaceProxy({ ...opts, onEvent: (what, detail) => send({ t: 'event', what, detail }) });
const report = (): void => send({ t: 'stats', stats: proxy.stats, active: proxy.activeConnections });
setInterval(report, opts.statsMs ?? DEFAULTS.proxyStatsMs).unref();

/** Closes everything, then sends the final counters (connections closed just now counted) and exits. */
const exit = (): void => {
  proxy.stop();
  setTimeout(() => {
    if (!process.connected) process.exit(0);
    process.send!({ t: 'stats', stats: proxy.stats, active: 0 } satisfies FromWorker, () => process.exit(0));
  }, 50);
};

process.on('message', (m: ToWorker) => {
  if (m.t === 'stop') return exit();
  if (m.t !== 'apply') return;
  void proxy.apply(m.vips).then((r) => {
    const errors: [string, string][] = [];
    for (const v of m.vips) {
      const e = proxy.listenError(v);
      if (e !== undefined) errors.push([listenerId(v), e]);
    }
    send({ t: 'applied', seq: m.seq, ...r, errors });
    report();
  });
});
process.on('disconnect', () => {
  proxy.stop();
  process.exit(0);
});
send({ t: 'ready' });

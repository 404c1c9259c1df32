// One agent of the real store benchmark (bench/store-real.ts): membership and the store
// in one process, on its own loopback address, driven by JSON lines on stdin. It reports
// when its live view first shows each key under bench/, on the wall clock
// (performance.timeOrigin + now()), which all processes on the machine share.
//   argv: name addr port dataDir [seed addr:port]
//   in:   {"op":"begin"} | {"op":"put","key":…,"value":…} | {"op":"stats"} | {"op":"stop"}
//   out:  {"ready":…} {"put":key,"at":t} {"seen":key,"at":t,"via":path} {"held":key,"at":t} {"stats":…}
//   (seen: the live view shows it; held: the all view does)
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Membership } from '../membership/membership.js';
import { StoreNode } from '../crdt-store/store-node.js';

const [name, addr, portArg, dataDir, seed] = process.argv.slice(2);
const port = Number(portArg);
const now = () => performance.timeOrigin + performance.now();
const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

const membership = await Membership.start({ name: name!, bindAddr: addr!, bindPort: port });
// BENCH_STORE_REPLICATION: replication settings as JSON (a run with the old tree and no
// announcements on pushes, for the before/after comparison in one run).
const replication = process.env.BENCH_STORE_REPLICATION
  ? (JSON.parse(process.env.BENCH_STORE_REPLICATION) as Record<string, number>)
  : undefined;
const store = await StoreNode.start({
  replication,
  name: name!,
  dataDir: dataDir!,
  bind: addr!,
  port: port + 1,
  membership,
  gossipPort: port,
});
// Event-loop delay: how late this process ran its callbacks (a hop of the tree waits for it).
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
store.watch('bench/', (e) => {
  if (!e.initial && e.after) out({ seen: e.key, at: now(), via: store.arrivalPath() ?? 'none' });
});
// The same in the all view: replication alone, whatever membership thinks of the writer.
store.watch(
  'bench/',
  (e) => {
    if (!e.initial && e.after) out({ held: e.key, at: now() });
  },
  { view: 'all' },
);
if (seed) void membership.join([seed]);
out({ ready: name });

let putting = false;
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { op: string; key?: string; value?: never };
  if (cmd.op === 'put' || cmd.op === 'begin') {
    // The delay figures cover the updates, not the cluster's forming.
    if (!putting) loopDelay.reset();
    putting = true;
  }
  if (cmd.op === 'put') {
    const at = now();
    await store.put(cmd.key!, cmd.value!);
    out({ put: cmd.key, at });
  } else if (cmd.op === 'stats') {
    const s = store.stats();
    out({
      stats: {
        members: s.replication.members,
        root: store.digestRoot(),
        docs: s.store.docs,
        replication: s.replication,
        rss: process.memoryUsage().rss,
        loop_p99_ms: loopDelay.percentile(99) / 1e6,
        loop_max_ms: loopDelay.max / 1e6,
      },
    });
  } else if (cmd.op === 'stop') {
    await store.stop();
    await membership.leave(500);
    await membership.close();
    process.exit(0);
  }
}

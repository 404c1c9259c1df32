// One real agent of `npm run bench -- scale` (bench/scale-real.ts): membership and the store
// (in memory, as an agent without --data-dir) in one process on its own loopback address,
// lan preset. It says when it holds a member dead, on the wall clock every process on the
// machine shares, and answers {"op":"stats"} with its own cost.
//   argv: name addr port [seed addr:port]
//   out:  {"ready":name} {"dead":member,"at":t} {"stats":{alive,root,rss,cpuUs,bytesOut}}
import { createInterface } from 'node:readline';
import { Membership } from '../membership/membership.js';
import { makeConfig } from '../membership/core/config.js';
import { StoreNode } from '../crdt-store/store-node.js';

const [name, addr, portArg, seed] = process.argv.slice(2);
const port = Number(portArg);
const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

const membership = await Membership.start({ name: name!, bindAddr: addr!, bindPort: port, config: makeConfig('lan') });
const store = await StoreNode.start({
  name: name!,
  dataDir: undefined,
  bind: addr!,
  port: port + 1,
  membership,
  gossipPort: port,
});
membership.on('dead', (m) => out({ dead: m.name, at: performance.timeOrigin + performance.now() }));
if (seed) void joinUntilAnswered(seed);
out({ ready: name });

/** Retried until the seed answers (it may still be starting). */
async function joinUntilAnswered(to: string): Promise<void> {
  while ((await membership.join([to]).catch(() => 0)) === 0) await new Promise((r) => setTimeout(r, 500));
}

const sent = (t: { packetBytesOut: number; streamBytesOut: number }) => t.packetBytesOut + t.streamBytesOut;

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { op: string };
  if (cmd.op === 'stats') {
    const cpu = process.cpuUsage();
    out({
      stats: {
        alive: membership.members().filter((m) => m.state === 'alive').length,
        root: store.digestRoot(),
        rss: process.memoryUsage().rss,
        cpuUs: cpu.user + cpu.system,
        bytesOut: sent(membership.stats().transport) + sent(store.stats().transport),
      },
    });
  } else if (cmd.op === 'stop') {
    await store.stop();
    await membership.close();
    process.exit(0);
  }
}

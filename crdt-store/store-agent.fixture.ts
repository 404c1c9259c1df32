// A store agent for the real-network tests: membership and the store in one process,
// driven by JSON lines on stdin, answering with JSON lines on stdout. Separate processes,
// so a test can kill -9 one of them.
//   argv: name bindAddr gossipPort dataDir [seed host:port]
//   in:   {"id":1,"op":"put","key":"k","value":1,"durable":true}  | get | keys | stats
//   out:  {"ready":true,"epoch":…}  then  {"id":1,"result":…}
import { createInterface } from 'node:readline';
import { Membership } from '../membership/membership.js';
import { makeConfig } from '../membership/core/config.js';
import { StoreNode } from './store-node.js';

const [name, bind, portArg, dataDir, seed] = process.argv.slice(2);
const port = Number(portArg);
const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

const membership = await Membership.start({
  name: name!,
  bindAddr: bind!,
  bindPort: port,
  config: makeConfig('local', { probeIntervalMs: 500, probeTimeoutMs: 250 }),
});
const store = await StoreNode.start({
  name: name!,
  dataDir: dataDir!,
  bind: bind!,
  port: port + 1,
  membership,
  gossipPort: port,
  replication: { repairIntervalMs: 300 },
  onError: (e, ctx) => process.stderr.write(`${name} ${ctx}: ${e.message}\n`),
});
if (seed) void membership.join([seed]);
out({ ready: true, epoch: store.store.ownEpoch, problems: store.problems.map((p) => p.message) });

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as {
    id: number;
    op: string;
    key?: string;
    value?: unknown;
    durable?: boolean;
    shared?: boolean;
  };
  switch (cmd.op) {
    case 'put':
      out({
        id: cmd.id,
        result: await store.put(cmd.key!, cmd.value as never, { durable: cmd.durable, shared: cmd.shared }),
      });
      break;
    case 'get':
      out({ id: cmd.id, result: store.get(cmd.key!) ?? null });
      break;
    case 'keys':
      out({ id: cmd.id, result: store.keys('', { view: 'all' }) });
      break;
    case 'debug': {
      const core = (store as unknown as { core: { eager: { size: number }; members: Map<string, unknown> } }).core;
      out({
        id: cmd.id,
        result: {
          ring: core.eager.size,
          members: [...core.members],
          mem: membership.members().map((m) => [m.name, m.addr, m.port, m.state]),
        },
      });
      break;
    }
    case 'stats':
      out({ id: cmd.id, result: store.stats() });
      break;
    case 'stop':
      await store.stop();
      await membership.leave(1000);
      await membership.close();
      out({ id: cmd.id, result: 'stopped' });
      process.exit(0);
  }
}

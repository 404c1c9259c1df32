// Part of `npm run bench -- idle`: the floors under an idle agent's RSS, each a process with
// the agent's flags and environment that holds what any agent on this stack must hold and
// nothing of weft's own:
//   builtins    a node with the Node modules an idle agent has loaded (its
//               process.moduleLoadList: HTTP for the API, dgram and net for gossip and the
//               store, crypto, ...);
//   automerge   and Automerge's wasm, loaded through the store's own door
//               (crdt-store/automerge.ts), holding one single-record document per member as
//               an idle member's store does, and bringing a replica of one up to date once a
//               second as a repair does: wasm code compiled, V8's copy of the module, its
//               memory.
// (The bare node under both is the bench's own floor, `node -e`.) What an agent holds above
// the last is weft's own.
//   node dist/bench/idle-floor.js <builtins|automerge> <documents>
import { createRequire } from 'node:module';

const [level = 'automerge', documents = '30'] = process.argv.slice(2);

// An idle agent's built-in modules (membership and store on, DNS, LB and Docker off),
// read from its process.moduleLoadList on Node 20; internal modules come with them.
const AGENT_BUILTINS = [
  'assert',
  'async_hooks',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'diagnostics_channel',
  'dns',
  'dns/promises',
  'events',
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'querystring',
  'stream',
  'stream/promises',
  'string_decoder',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'worker_threads',
  'zlib',
];

if (level !== 'builtins' && level !== 'automerge') throw new Error(`idle-floor: no level ${level}`);
const require = createRequire(import.meta.url);
for (const m of AGENT_BUILTINS) require(`node:${m}`);

if (level === 'automerge') {
  const { amCreate, amLoad, amInitSyncState } = await import('../crdt-store/automerge.js');
  const docs = Array.from({ length: Math.max(1, Number(documents)) }, (_, i) => {
    const doc = amCreate(i.toString(16).padStart(8, '0'));
    doc.put('_root', `node-${i}`, JSON.stringify({ addr: `127.0.0.${i + 1}`, tags: {} }));
    doc.commit();
    return doc;
  });
  // A repair: a replica of one document, brought up to date from fresh sync states.
  const replica = amLoad(docs[0]!.save(), 'ffffffff');
  setInterval(() => {
    const [mine, theirs] = [amInitSyncState(), amInitSyncState()];
    for (let round = 0; round < 4; round++) {
      const out = docs[0]!.generateSyncMessage(mine);
      if (out) replica.receiveSyncMessage(theirs, out);
      const back = replica.generateSyncMessage(theirs);
      if (back) docs[0]!.receiveSyncMessage(mine, back);
      if (!out && !back) break;
    }
  }, 1000);
} else setInterval(() => {}, 1000);

process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));

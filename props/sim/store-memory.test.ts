// Memory per (node, document) pair in a simulated store cluster (issue 17): every node of a
// formed cluster holds every node's document, N² replicas, so the bytes of one decide the
// largest full-stack cluster the simulator runs (bench `scale`, full rows), and the objects
// in them what each of forming's garbage collections copies and marks. 1,848 B at 150 nodes
// while each node's window kept a string of its own per change id and a number object per
// change (the range it was forwarded for), each digest entry and replica a number object for
// its hash, and each store an object per member; 1,565 B without those; ~1,460 B since the
// store's live view is kept as where it differs from all (views.ts). 1,580-1,607 B while
// pushes were encoded into Node's shared 8 KB buffer slabs, where a long-lived small copy
// (the decode cache's) kept a slab of spent pushes alive. 1,453 B while each window held an
// object of state per change (~3 per pair); ~1,320 B since a change taken and not forwarded
// is held as where it is, one object per change however many nodes hold it (fast-path.ts);
// ~1,300 B since a digest entry is a slot in two typed arrays, not an object, and ~1,240 B
// since the digest lists a group by a pass over its slots, not a set per group (digest.ts).
// Run as the bench runs it (shared
// documents and messages). The run is deterministic and measured after full collections:
// only a change in what a replica holds moves it.
import t from 'tap';
import { StoreCluster } from './store-cluster.js';
import { makeConfig } from '../../membership/core/config.js';
import { endpointKey, nodeKey } from '../../records/schema.js';
import { memoryAfterGc } from '../../test/helpers/heap.js';

const NODES = 150;
const BOUND_B = 1_300;

function used(): number {
  const m = memoryAfterGc();
  return m.heap + m.arrayBuffers;
}

t.test(`${NODES} store nodes hold each node's document in under ${BOUND_B} bytes`, async (t) => {
  const before = used();
  const c = new StoreCluster({
    nodes: NODES,
    seed: 1,
    config: makeConfig('lan'),
    persist: false,
    shareDocs: true,
    shareMessages: true,
  });
  c.names().forEach((n, i) => {
    c.write(n, nodeKey(n), { addr: `192.168.0.${i}` });
    c.write(n, endpointKey('web', n, 'c1'), {
      node: n,
      container: 'c1',
      addrs: [`10.1.0.${i}`],
      ports: { http: { port: 80, proto: 'tcp' } },
      health: 'none',
      vips: [{ vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 }],
      source: 'docker',
    });
  });
  const first = c.names()[0]!;
  const formed = c.runUntilTrue(
    () => c.storesAgree() && c.store(first).keys('svc/').length === NODES && c.membership.converged(),
    60_000,
    250,
  );
  t.ok(formed !== undefined, 'every store holds every node record and endpoint');
  c.run(5_000);
  const perPair = (used() - before) / NODES ** 2;
  t.comment(`${perPair.toFixed(0)} B per (node, document) pair (${NODES} nodes, everything the cluster holds)`);
  t.ok(perPair < BOUND_B, `${perPair.toFixed(0)} B per pair`);
});

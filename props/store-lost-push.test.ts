// A lost eager push, in the simulator: the writer's push to the root of its largest
// subtree is dropped, while other nodes keep writing (as in the store bench). Every node
// must still have the change soon after, long before anti-entropy or the batched lazy
// announcements (lazyDelayMs) would bring it: the missing subtree hears of the change on
// the pushes it receives anyway, and grafts it from whoever announced it.
//
// Bound, from the configured timings (I = interval between other writes, L = one-way link
// delay, D = ceil(log_F N) = the depth of the eager tree of fan-out F = treeFanout,
// G = graftDelayMs):
//   a missing node learns of the change on the first push it receives from a node that has
//   it: within a few updates (K = 4 intervals: each update reaches every node within D L,
//   and most of the cluster holds the change after the first graft round); it grafts after
//   G, and the answer comes back in 2 L:  X = K I + D L + G + 2 L.
// Before announcements rode on pushes, the subtree waited for the lazy batch:
// lazyDelayMs (250 ms) + G + 2 L, well above X.

import t from 'tap';
import { makeConfig } from '../membership/core/config.js';
import { DEFAULT_REPLICATION } from '../crdt-store/replication/core.js';
import { BroadcastRing } from '../crdt-store/replication/ring.js';
import { latency } from './sim/index.js';
import { StoreCluster } from './sim/store-cluster.js';

const N = 20;
const L = 1;
const I = 50;
const K = 4;
const F = DEFAULT_REPLICATION.treeFanout;
const D = Math.ceil(Math.log(N) / Math.log(F));
const G = DEFAULT_REPLICATION.graftDelayMs;
const X = K * I + D * L + G + 2 * L;

/** The writer's eager child with the largest range, and the nodes in that range (who miss the push). */
function largestSubtree(names: string[], writer: string): { root: string; size: number } {
  const ring = new BroadcastRing(0, F);
  ring.setMembers(names);
  const children = ring.children(writer);
  const sizes = children.map((c) => {
    let n = 0;
    const walk = (node: string, limit: number) => {
      n++;
      for (const g of ring.children(node, limit)) walk(g.name, g.limit);
    };
    walk(c.name, c.limit);
    return { root: c.name, size: n };
  });
  return sizes.reduce((a, b) => (b.size > a.size ? b : a));
}

t.test(`a push lost to a subtree root: every node has the change within ${X} ms (K I + D L + G + 2 L)`, async (t) => {
  t.ok(X < DEFAULT_REPLICATION.lazyDelayMs, 'the bound is below what the batched lazy path alone could do');
  for (const seed of [1, 2, 3]) {
    const c = new StoreCluster({
      nodes: N,
      seed,
      config: makeConfig('lan'),
      link: { latency: latency.constant(L) },
    });
    c.run(5000);
    t.ok(c.storesAgree(), `seed ${seed}: the stores agree after warm-up`);
    const names = c.names();
    const writer = names[seed];
    const { root, size } = largestSubtree(names, writer);
    // Others keep writing, one update every I ms, as the bench does.
    const others = names.filter((n) => n !== writer);
    for (let i = 0; i < 40; i++)
      c.membership.scheduler.at(c.now + (i + 1) * I, () => c.write(others[(i * 7) % others.length], `bg/${i}`, i));
    const net = c.membership.network;
    net.block(c.membership.host(writer).id, c.membership.host(root).id);
    c.write(writer, 'lost/push', { seed });
    net.heal();
    const at = c.now;
    const done = c.runUntilTrue(() => names.every((n) => c.store(n).get('lost/push') !== undefined), 5000, 1);
    t.ok(done !== undefined, `seed ${seed}: every node got the change`);
    const took = (done ?? Infinity) - at;
    t.ok(took <= X, `seed ${seed}: ${size} nodes missed the push; all had it after ${took} ms (bound ${X} ms)`);
  }
});

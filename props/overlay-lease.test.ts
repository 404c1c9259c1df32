// Overlay subnet leases in the deterministic simulator: membership and the replicated
// store on every simulated host, and on each the overlay's lease step exactly as the
// driver runs it (overlay/lease.ts decideLease on the store's 'all' view, overlay/desired.ts
// peersOf on the live view), after every change of the overlay records and every second.
// The CIDR is small (16 subnets for up to 11 nodes) so that concurrent claims collide, and
// nodes join at random times while the network is partitioned, with clocks off by up to
// ±5 s, and crash and restart from their disks.
//
// After the faults stop and the cluster converges:
//   - no two live nodes hold overlapping subnets, and every live node holds one;
//   - a node that restarted from its disk holds the subnet it held before;
//   - each live node's planned peers are exactly the other live nodes.
//
//   PROPS_RUNS (default 12), PROPS_SEED, PROPS_PATH as in props/store.test.ts.

import fc from 'fast-check';
import t from 'tap';
import { PropertyMeter } from './report.js';
import { makeConfig } from '../membership/core/config.js';
import { suspicionTimeout } from '../membership/core/math.js';
import { DEFAULT_REPLICATION } from '../crdt-store/replication/core.js';
import type { LocalStore } from '../crdt-store/local-store.js';
import { describeFaults, type Fault } from './sim/index.js';
import { StoreCluster } from './sim/store-cluster.js';
import { overlaps, parsePrefix } from '../overlay/cidr.js';
import { decideLease, type LeaseConfig } from '../overlay/lease.js';
import { peersOf, vtepMac } from '../overlay/desired.js';
import { leaseKey, leaseValue, OVERLAY_PREFIX, readLeases, type Lease } from '../overlay/records.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 12);
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;
const INITIAL = 6;
const JOINERS = 5;
const N = INITIAL + JOINERS;

const config = makeConfig('lan');
const cfg: LeaseConfig = { cidr: parsePrefix('10.42.0.0/20')!, subnetLen: 24 };
const S = config.suspicionMaxTimeoutMult * suspicionTimeout(config.suspicionMult, N, config.probeIntervalMs);
const BOUND_MS = S + 3 * config.healIntervalMs + 10_000 + 20 * DEFAULT_REPLICATION.repairIntervalMs;
const FAULT_WINDOW_MS = 30_000;
const STEP_EVERY_MS = 1000;

const INITIAL_NAMES = Array.from({ length: INITIAL }, (_, i) => `node-${i}`);
const JOIN_NAMES = Array.from({ length: JOINERS }, (_, i) => `join-${i}`);
const ALL_NAMES = [...INITIAL_NAMES, ...JOIN_NAMES];
const vtepOf = (name: string) => ({
  addr: `192.168.0.${ALL_NAMES.indexOf(name) + 1}`,
  mac: vtepMac(name),
  vni: 1,
  port: 4789,
});

t.comment(
  `overlay lease props: ${INITIAL} nodes + ${JOINERS} joining, 16 subnets, ${RUNS} runs, PROPS_SEED=${SEED}; bound after faults ${BOUND_MS} ms`,
);

const nodeArb = fc.constantFrom(...INITIAL_NAMES, ...JOIN_NAMES);
const groupsArb = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: N, maxLength: N }).map((sides) => {
  const groups: string[][] = [[], [], []];
  sides.forEach((g, i) => groups[g].push(ALL_NAMES[i]));
  return groups.filter((g) => g.length > 0);
});
const faultArb: fc.Arbitrary<Fault> = (() => {
  const at = fc.integer({ min: 0, max: FAULT_WINDOW_MS });
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ at, kind: fc.constant('crash' as const), node: nodeArb }) },
    {
      weight: 2,
      arbitrary: fc.record({
        at,
        kind: fc.constant('restart' as const),
        node: nodeArb,
        newAddress: fc.constant(false),
      }),
    },
    { weight: 3, arbitrary: fc.record({ at, kind: fc.constant('partition' as const), groups: groupsArb }) },
    { weight: 1, arbitrary: fc.record({ at, kind: fc.constant('heal' as const) }) },
  );
})();

const leasesIn = (store: LocalStore, view: 'live' | 'all'): Lease[] =>
  readLeases(store.entries(OVERLAY_PREFIX, { view })).leases;

t.test('concurrent joins under partitions: disjoint leases, kept across restarts, peers = live nodes', async (t) => {
  const meter = new PropertyMeter();
  let worst = 0;
  let moves = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      // Start partitioned (so sides claim blind), nodes join during the window.
      groupsArb,
      fc.array(fc.integer({ min: 0, max: FAULT_WINDOW_MS }), { minLength: JOINERS, maxLength: JOINERS }),
      fc.array(fc.integer({ min: -5000, max: 5000 }), { minLength: N, maxLength: N }),
      fc.array(faultArb, { maxLength: 6 }).map((fs) => [...fs].sort((a, b) => a.at - b.at)),
      (seed, firstSplit, joinAt, skews, faults) => {
        const skew = new Map(ALL_NAMES.map((n, i) => [n, skews[i]]));
        const lastHeld = new Map<string, string>();
        const restartedFromDisk = new Set<string>();
        const pending = new Set<string>();
        let c: StoreCluster = undefined as unknown as StoreCluster;
        const step = (name: string) => {
          pending.delete(name);
          if (!c.isUp(name)) return;
          const store = c.store(name);
          const all = leasesIn(store, 'all');
          const own = all.find((l) => l.node === name);
          const d = decideLease(name, own, all, cfg, vtepOf(name), c.now + skew.get(name)!);
          if (d.kind === 'exhausted')
            throw new Error(`${name}: no subnet left with ${d.held} claims: the CIDR is sized so this cannot happen`);
          if (d.kind === 'claim' && own) moves++;
          if (!own || JSON.stringify(leaseValue(own)) !== JSON.stringify(leaseValue(d.record)))
            c.write(name, leaseKey(name), leaseValue(d.record), { durable: true });
        };
        const early: string[] = [];
        const soon = (name: string) => {
          if (pending.has(name)) return;
          pending.add(name);
          // onStart runs inside the cluster's constructor, before `c` is set.
          if (c === undefined) early.push(name);
          else c.membership.scheduler.at(c.now + 1, () => step(name));
        };
        c = new StoreCluster({
          nodes: INITIAL,
          seed,
          config,
          onStart: (name, store) => {
            store.watch(OVERLAY_PREFIX, () => soon(name), { view: 'all' });
            soon(name);
          },
        });
        meter.run(c);
        for (const n of early) c.membership.scheduler.at(c.now + 1, () => step(n));
        c.membership.partition(
          firstSplit.map((g) => g.filter((n) => INITIAL_NAMES.includes(n) || JOIN_NAMES.includes(n))),
        );
        const tick = () => {
          for (const n of c.upNodes()) soon(n);
          c.membership.scheduler.at(c.now + STEP_EVERY_MS, tick);
        };
        tick();
        JOIN_NAMES.forEach((name, i) =>
          c.membership.scheduler.at(joinAt[i], () => c.addNode(name, [INITIAL_NAMES[i % INITIAL]])),
        );
        for (const f of faults) {
          c.membership.scheduler.at(f.at, () => {
            if (!c.names().includes('node' in f ? f.node : INITIAL_NAMES[0])) return; // a joiner that has not joined yet
            if (f.kind === 'crash' && c.isUp(f.node)) {
              const own = leasesIn(c.store(f.node), 'all').find((l) => l.node === f.node);
              // Only what reached the disk survives; the store's journal syncs on its own schedule.
              if (own) lastHeld.set(f.node, own.subnet);
            }
            c.applyFault(f);
            if (f.kind === 'restart' && c.isUp(f.node)) restartedFromDisk.add(f.node);
          });
        }
        c.run(FAULT_WINDOW_MS + 1);
        c.membership.heal();
        for (const n of c.names()) if (!c.isUp(n) && c.membership.host(n).status === 'down') c.restart(n);
        const start = c.now;
        const settled = () => {
          if (!c.membership.converged() || !c.storesAgree() || pending.size > 0) return false;
          const up = c.upNodes();
          const all = leasesIn(c.store(up[0]), 'all');
          return up.every((n) => {
            const own = all.find((l) => l.node === n);
            return own && decideLease(n, own, all, cfg, vtepOf(n), c.now).kind === 'keep';
          });
        };
        const done = c.runUntilTrue(settled, BOUND_MS + 10_000, 250);
        const report = (detail: string) =>
          `seed ${seed}; first split ${JSON.stringify(firstSplit)}; joins at ${joinAt.join(', ')} ms; skews ${skews.join(', ')}\nfaults:\n${describeFaults(faults) || '(none)'}\n${detail}`;
        if (done === undefined)
          throw new Error(
            report(
              `not settled ${BOUND_MS + 10_000} ms after faults stopped: groups ${JSON.stringify(c.rootGroups())}`,
            ),
          );
        worst = Math.max(worst, done - start);

        const up = c.upNodes();
        for (const n of up) {
          const all = leasesIn(c.store(n), 'all');
          const live = leasesIn(c.store(n), 'live');
          const mine = live.filter((l) => up.includes(l.node));
          for (let i = 0; i < mine.length; i++)
            for (let j = i + 1; j < mine.length; j++)
              if (overlaps(mine[i].prefix, mine[j].prefix))
                throw new Error(
                  report(`${n} sees ${mine[i].node} and ${mine[j].node} both on ${mine[i].subnet} / ${mine[j].subnet}`),
                );
          const missing = up.filter((m) => !mine.some((l) => l.node === m));
          if (missing.length) throw new Error(report(`${n} sees no lease of live ${missing.join(', ')}`));
          const peers = peersOf(n, live, all, { cfg, vni: 1, port: 4789, underlay: vtepOf(n).addr });
          const want = up.filter((m) => m !== n).sort();
          const got = peers.peers.map((p) => p.node).sort();
          if (JSON.stringify(got) !== JSON.stringify(want))
            throw new Error(
              report(
                `${n} plans peers ${got.join(',')} but the live nodes are ${want.join(',')}; skipped ${JSON.stringify(peers.skipped)}`,
              ),
            );
        }
        // A restart from disk keeps the lease, unless it had lost it meanwhile to an earlier claim.
        const all = leasesIn(c.store(up[0]), 'all');
        for (const n of restartedFromDisk) {
          const before = lastHeld.get(n);
          const now = all.find((l) => l.node === n);
          if (!before || !now || before === now.subnet) continue;
          const winner = all.find((l) => l.node !== n && l.subnet === before);
          if (!winner)
            throw new Error(
              report(`${n} held ${before} before its crash and ${now.subnet} after, with nobody else on ${before}`),
            );
        }
        return true;
      },
    ),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH, endOnFailure: true } : {}) },
  );
  t.comment(
    `worst time to settled leases after faults: ${worst} ms (bound ${BOUND_MS} ms); ${moves} moves after a lost conflict`,
  );
  t.ok(moves > 0, 'conflicts happened and were resolved (the property was exercised)');
  meter.report(t, 'overlay: disjoint leases, peers = live nodes', N, SEED);
});

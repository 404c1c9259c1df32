// Cluster properties of the replicated store, checked with fast-check over generated
// write and fault schedules in the deterministic simulator (membership and store side by
// side on every simulated host, each store's data on a disk that loses unsynced writes
// when its node crashes). A failure replays exactly from the printed seed and schedule.
//
//   PROPS_RUNS   runs per property (default 12)
//   PROPS_NODES  cluster size (default 12)
//   PROPS_SEED   fast-check seed (default: random, printed)
//   PROPS_PATH   fast-check path, to replay one shrunk case with PROPS_SEED
//
// Bound: after the faults stop (links heal, loss ends, crashed nodes restart from their
// disks) every node is up, so no suspicion has to time out: membership agrees once heal
// retries (period H = healIntervalMs) have reunited every side and the restarted nodes, 3 H;
// from then on every anti-entropy round (mean R = repairIntervalMs) pairs each node with a
// random live member, so a difference spreads like a push-pull epidemic, in O(log n)
// rounds: 10 R at n = 12. The store bound is 3 H + 10 R = 40 s (the run is given 5 s more
// for a pause still running). Worst seen over 200 runs: 27.5 s (PROPS_RUNS=200
// PROPS_SEED=18; 24.5 s before the arming pairs were added): within 2x, as issue 18 wants
// (the old bound, 85.9 s, was 6x the worst case).

import fc from 'fast-check';
import t from 'tap';
import { PropertyMeter } from './report.js';
import { makeConfig } from '../membership/core/config.js';
import { DEFAULT_REPLICATION } from '../crdt-store/replication/core.js';
import type { StoreRecord, WatchEvent } from '../crdt-store/views.js';
import { describeFaults, latency, skewFromSeed, type Fault } from './sim/index.js';
import { StoreCluster } from './sim/store-cluster.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 12);
const N = Number(process.env.PROPS_NODES ?? 12);
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;

const config = makeConfig('lan');
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
const STORE_BOUND_MS = 3 * config.healIntervalMs + 10 * DEFAULT_REPLICATION.repairIntervalMs;
const WARMUP_MS = 3000;
const FAULT_WINDOW_MS = 40_000;

/** Shrinking replays whole simulations: capped so a failure is reported in minutes, not hours. */
const SHRINK_MS = Number(process.env.PROPS_SHRINK_MS ?? 60_000);

function params(): fc.Parameters<unknown> {
  return {
    numRuns: RUNS,
    seed: SEED,
    interruptAfterTimeLimit: SHRINK_MS * 2,
    markInterruptAsFailure: true,
    ...(PATH ? { path: PATH, endOnFailure: true } : {}),
  };
}

t.comment(
  `store props: ${N} nodes, ${RUNS} runs per property, PROPS_SEED=${SEED}; bound after faults: ${STORE_BOUND_MS} ms`,
);

// ------------------------------------------------------------------ generators

const nodeArb = fc.integer({ min: 0, max: N - 1 }).map((i) => NAMES[i]);

const groupsArb = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: N, maxLength: N }).map((sides) => {
  const groups: string[][] = [[], [], []];
  sides.forEach((g, i) => groups[g].push(NAMES[i]));
  return groups.filter((g) => g.length > 0);
});

const faultArb: fc.Arbitrary<Fault> = (() => {
  const at = fc.integer({ min: 0, max: FAULT_WINDOW_MS });
  return fc.oneof(
    fc.record({ at, kind: fc.constant('crash' as const), node: nodeArb }),
    fc.record({
      at,
      kind: fc.constant('restart' as const),
      node: nodeArb,
      newAddress: fc.boolean(),
      skewMs: fc.integer({ min: -600_000, max: 600_000 }),
    }),
    fc.record({ at, kind: fc.constant('pause' as const), node: nodeArb, ms: fc.integer({ min: 100, max: 5000 }) }),
    fc.record({ at, kind: fc.constant('partition' as const), groups: groupsArb }),
    fc.record({ at, kind: fc.constant('heal' as const) }),
    fc.record({ at, kind: fc.constant('loss' as const), p: fc.double({ min: 0, max: 0.3, noNaN: true }) }),
  );
})();

interface Write {
  at: number;
  node: string;
  /** Index into a small key space: own keys k/0..k/3 per node, shared keys s/0..s/3. */
  key: number;
  shared: boolean;
  durable: boolean;
  del: boolean;
}

const writeArb: fc.Arbitrary<Write> = fc.record({
  at: fc.integer({ min: 0, max: FAULT_WINDOW_MS }),
  node: nodeArb,
  key: fc.integer({ min: 0, max: 3 }),
  shared: fc.boolean(),
  durable: fc.boolean(),
  del: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
});

const sorted = <T extends { at: number }>(xs: T[]) => [...xs].sort((a, b) => a.at - b.at);

/**
 * The durable-write check can only fail when a node crashes after a durable write of its own
 * was acknowledged: a run where that happens "arms" it. Three runs in four add such a pair
 * (a durable own write, then a crash of its writer 0.1-5 s later) to the random schedule;
 * the arming rate is measured, reported (props table) and must reach one half.
 */
const armingArb = fc.option(
  fc.record({
    node: nodeArb,
    at: fc.integer({ min: 0, max: FAULT_WINDOW_MS - 5000 }),
    key: fc.integer({ min: 0, max: 3 }),
    crashAfter: fc.integer({ min: 100, max: 5000 }),
  }),
  { freq: 4 }, // fast-check: none in 1 of 4
);

// ------------------------------------------------------------------ checks

const show = (r: StoreRecord | undefined) => (r ? `${r.owner}:${JSON.stringify(r.value)}` : '-');

/** The events one store life delivered: a chain per key, no event that changed nothing, ending at `final`. */
function checkWatchChain(events: WatchEvent[], final: Map<string, string> | undefined): string | undefined {
  const last = new Map<string, string>();
  for (const e of events) {
    const before = show(e.before);
    const after = show(e.after);
    if (before === after) return `spurious event for ${e.key}: ${before} -> ${after}`;
    const prev = last.get(e.key) ?? '-';
    if (prev !== before)
      return `event for ${e.key} says before=${before} but the previous event left ${prev} (lost or repeated event)`;
    last.set(e.key, after);
  }
  if (!final) return undefined;
  for (const [k, v] of final)
    if ((last.get(k) ?? '-') !== v) return `watch ended at ${k}=${last.get(k) ?? '-'} but the store holds ${v}`;
  for (const [k, v] of last)
    if (v !== '-' && !final.has(k)) return `watch ended at ${k}=${v} but the store holds nothing`;
  return undefined;
}

// ------------------------------------------------------------------ properties

t.test(
  'after faults stop: identical replicas within the bound, no acknowledged durable write lost, watches exact',
  async (t) => {
    const meter = new PropertyMeter();
    let worst = 0;
    let totalWrites = 0;
    let durableAcks = 0;
    let crashes = 0;
    let torn = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.array(faultArb, { maxLength: 8, size: 'max' }),
        fc.array(writeArb, { minLength: 1, maxLength: 60, size: 'max' }),
        armingArb,
        (seed, randomFaults, randomWrites, arm) => {
          const faults = sorted(
            arm
              ? [...randomFaults, { at: arm.at + arm.crashAfter, kind: 'crash' as const, node: arm.node }]
              : randomFaults,
          );
          const writes = sorted(
            arm
              ? [
                  ...randomWrites,
                  { at: arm.at, node: arm.node, key: arm.key, shared: false, durable: true, del: false },
                ]
              : randomWrites,
          );
          // Per node and life: the watch events of the 'all' view, from the store's start.
          const lives: { node: string; events: WatchEvent[] }[] = [];
          const current = new Map<string, WatchEvent[]>();
          const c = new StoreCluster({
            nodes: N,
            seed,
            config,
            skewMs: skewFromSeed(seed),
            onStart: (name, store) => {
              const events: WatchEvent[] = [];
              lives.push({ node: name, events });
              current.set(name, events);
              store.watch('', (e) => events.push(e), { view: 'all' });
            },
          });
          meter.run(c);
          c.run(WARMUP_MS);
          c.scheduleFaults(faults);
          crashes += faults.filter((f) => f.kind === 'crash').length;
          const faultsFrom = c.now;
          // Program order of each node's own-key writes, as executed, with what was acknowledged durable.
          const ownLog = new Map<string, { value: string; durable: boolean }[]>();
          /** When each node's first durable own write was acknowledged (the check is armed if it crashes after). */
          const firstDurableAck = new Map<string, number>();
          let counter = 0;
          for (const w of writes) {
            c.membership.scheduler.at(c.now + w.at, () => {
              const key = w.shared ? `s/${w.key}` : `k/${w.node}/${w.key}`;
              const value = w.del ? undefined : { by: w.node, n: ++counter }; // keys in canonical order, as show() prints
              c.write(w.node, key, value, { shared: w.shared, durable: w.durable }, () => {
                totalWrites++;
                if (w.durable) durableAcks++;
                if (w.shared) return;
                if (w.durable && !firstDurableAck.has(w.node)) firstDurableAck.set(w.node, c.now);
                const log = ownLog.get(key) ?? [];
                log.push({
                  value: value === undefined ? '-' : `${w.node}:${JSON.stringify(value)}`,
                  durable: w.durable,
                });
                ownLog.set(key, log);
              });
            });
          }
          c.run(FAULT_WINDOW_MS + 1);
          // Faults stop: links heal, loss ends, every crashed node restarts from its disk.
          c.membership.heal();
          c.membership.setLoss(0);
          for (const n of NAMES) if (!c.isUp(n) && c.membership.host(n).status === 'down') c.restart(n);
          torn += NAMES.reduce((s, n) => s + c.disk(n).tornWrites, 0);
          if (faults.some((f) => f.kind === 'crash' && (firstDurableAck.get(f.node) ?? Infinity) < faultsFrom + f.at))
            meter.armed();
          const start = c.now;
          const agreed = () => c.membership.converged() && c.storesAgree();
          const done = c.runUntilTrue(agreed, STORE_BOUND_MS + 5000, 250);
          const report = (detail: string) =>
            `cluster seed ${seed}, ${N} nodes; faults (after ${WARMUP_MS} ms warm-up):\n${describeFaults(faults) || '(none)'}\n${writes.length} writes\n${detail}`;
          if (done === undefined)
            throw new Error(
              report(
                `stores not identical ${STORE_BOUND_MS + 5000} ms after faults stopped: digest groups ${JSON.stringify(c.rootGroups())}`,
              ),
            );
          worst = Math.max(worst, done - start);

          const up = c.upNodes();
          const snapshot = (n: string) => c.store(n).entries('', { view: 'all' });
          const reference = JSON.stringify(snapshot(up[0]));
          for (const n of up) {
            if (JSON.stringify(snapshot(n)) !== reference)
              throw new Error(report(`${n} holds different records than ${up[0]} despite equal digests`));
            if (JSON.stringify(c.store(n).entries()) !== JSON.stringify(c.store(up[0]).entries()))
              throw new Error(report(`live views differ at ${n}`));
          }
          // No acknowledged durable write lost: each own key holds its last durable value or something written after it.
          const holds = new Map(snapshot(up[0]).map((r) => [r.key, show(r)]));
          for (const [key, log] of ownLog) {
            const lastDurable = log.map((e) => e.durable).lastIndexOf(true);
            if (lastDurable < 0) continue;
            const allowed = new Set(log.slice(lastDurable).map((e) => e.value));
            const got = holds.get(key) ?? '-';
            if (!allowed.has(got))
              throw new Error(
                report(
                  `durable write lost: ${key} holds ${got}, the last acknowledged durable write was ${log[lastDurable].value}`,
                ),
              );
          }
          // Watches: every life's events form exact chains; the current lives end at the store's state.
          for (const life of lives) {
            const final =
              current.get(life.node) === life.events && c.isUp(life.node)
                ? new Map(snapshot(life.node).map((r) => [r.key, show(r)]))
                : undefined;
            const problem = checkWatchChain(life.events, final);
            if (problem) throw new Error(report(`watch at ${life.node}: ${problem}`));
          }
          return true;
        },
      ),
      params(),
    );
    t.comment(
      `worst time to identical replicas after faults: ${worst} ms (bound ${STORE_BOUND_MS} ms); ${totalWrites} writes, ${durableAcks} durable acks, ${crashes} crashes, ${torn} torn appends`,
    );
    t.pass('converged, durable writes kept, watches exact in every run');
    t.ok(
      meter.armedRate >= 0.5,
      `a node crashed after a durable write of its own was acknowledged in ${(meter.armedRate * 100).toFixed(0)} % of runs (at least 50 % wanted)`,
    );
    meter.report(t, 'store: identical replicas, durable writes kept, watches exact', N, SEED, { armed: true });
  },
);

t.test('a node that joins late catches up entirely through repair', async (t) => {
  const meter = new PropertyMeter();
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 40 }), (seed, writes) => {
      const c = new StoreCluster({ nodes: N, seed, config });
      meter.run(c);
      c.run(WARMUP_MS);
      for (let i = 0; i < writes; i++) {
        c.write(NAMES[i % N], `k/${i}`, i);
        c.write(NAMES[(i * 7) % N], `s/${i % 5}`, i, { shared: true });
      }
      c.run(2000);
      c.addNode('late');
      const start = c.now;
      const done = c.runUntilTrue(
        () =>
          c.isUp('late') &&
          c.storesAgree() &&
          c.store('late').keys('', { view: 'all' }).length === c.store(NAMES[0]).keys('', { view: 'all' }).length,
        30_000,
        100,
      );
      if (done === undefined)
        throw new Error(`seed ${seed}: the late node did not catch up: ${JSON.stringify(c.rootGroups())}`);
      const repaired = c.core('late').stats().repair.docsRepaired;
      if (repaired < N) throw new Error(`seed ${seed}: only ${repaired} documents came by repair`);
      if (
        JSON.stringify(c.store('late').entries('', { view: 'all' })) !==
        JSON.stringify(c.store(NAMES[0]).entries('', { view: 'all' }))
      )
        throw new Error(`seed ${seed}: late node differs`);
      t.comment(`seed ${seed}: caught up ${N + 1} own + shared documents in ${done - start} ms`);
      return true;
    }),
    { ...params(), numRuns: Math.max(1, Math.ceil(RUNS / 2)) },
  );
  t.pass('caught up in every run');
  meter.report(t, 'store: late joiner catches up', N, SEED);
});

t.test(
  'fast path: one push per node per change, visible everywhere in log2 N hops; loss repaired by grafts',
  async (t) => {
    const meter = new PropertyMeter();
    const hop = 1;
    const c = new StoreCluster({ nodes: N, seed: 11, config, link: { latency: latency.constant(hop) } });
    meter.run(c);
    c.run(WARMUP_MS);
    const before = NAMES.map((n) => c.core(n).stats().fastPath.pushesIn);
    const writes = 20;
    const depthBound = Math.ceil(Math.log2(N)) * hop + 1;
    let worst = 0;
    for (let i = 0; i < writes; i++) {
      const at = c.now;
      c.write(NAMES[(i * 5) % N], `fast/${i}`, i);
      const seen = c.runUntilTrue(() => NAMES.every((n) => c.store(n).get(`fast/${i}`) !== undefined), 1000, 0.25);
      t.ok(seen !== undefined, `write ${i} visible everywhere`);
      worst = Math.max(worst, seen! - at);
      c.run(DEFAULT_REPLICATION.lazyDelayMs); // let the lazy announcements go out, as a quiet cluster would
    }
    t.ok(
      worst <= depthBound,
      `slowest write visible everywhere after ${worst} ms (bound ${depthBound} ms = ceil(log2 ${N}) hops of ${hop} ms)`,
    );
    const pushes = NAMES.map((n, i) => c.core(n).stats().fastPath.pushesIn - before[i]);
    const total = pushes.reduce((a, b) => a + b, 0);
    t.equal(total, writes * (N - 1), `every node but the writer received each change exactly once (${total} pushes)`);

    // With loss, the lazy path (graft) repairs what the eager tree dropped, well before anti-entropy would.
    c.membership.setLoss(0.05);
    let slow = 0;
    for (let i = 0; i < writes; i++) {
      const at = c.now;
      c.write(NAMES[(i * 3) % N], `lossy/${i}`, i);
      const seen = c.runUntilTrue(() => NAMES.every((n) => c.store(n).get(`lossy/${i}`) !== undefined), 10_000, 1);
      t.ok(seen !== undefined, `lossy write ${i} visible everywhere`);
      if (seen! - at > DEFAULT_REPLICATION.lazyDelayMs + 7 * DEFAULT_REPLICATION.graftDelayMs + 10 * hop) slow++;
      c.run(DEFAULT_REPLICATION.lazyDelayMs);
    }
    const grafts = NAMES.reduce((s, n) => s + c.core(n).stats().fastPath.graftsOut, 0);
    t.ok(grafts > 0, `${grafts} grafts were needed`);
    t.ok(slow <= writes / 4, `${slow} of ${writes} writes at 5 % loss needed more than the lazy path (anti-entropy)`);
    meter.report(t, 'store: fast path one push per node', N, SEED);
  },
);

// A hostile member in the simulated store cluster (issue 12, item 2): node-0 is a member
// holding the key, and besides its honest store it sends forged replication messages to the
// others: documents of other nodes at far-future epochs, at the owner's current epoch with
// the owner's actor, within the allowed skew, with its own actor; shared changes writing
// other nodes' key spaces or in the wrong bucket; its own document writing others' keys;
// garbage. Honest nodes write their own records (node/<n>, svc/web/<n>/1) all along.
//
// Properties:
//   never      no forgery the store can detect (everything but a key holder writing with
//              the owner's actor at an epoch the clock allows) is ever visible at any node;
//   eventually once the forging stops, every node converges, and each honest node's
//              records read everywhere as that node last wrote them (undetectable forgeries
//              included: the owner's next epoch replaces them).
//
//   PROPS_RUNS (default 8), PROPS_NODES (default 6), PROPS_SEED, PROPS_PATH as props/store.test.ts
import fc from 'fast-check';
import t from 'tap';
import { PropertyMeter } from './report.js';
import { makeConfig } from '../membership/core/config.js';
import { actorId, bucketOf, ownDocId, SHARED_BUCKETS } from '../crdt-store/names.js';
import { recordOwner } from '../records/schema.js';
import { forgedOwnDocPush, sharedWritePush } from '../bench/hostile/store-forge.js';
import { StoreCluster, STORE_PORT } from './sim/store-cluster.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 8);
const N = Math.max(3, Number(process.env.PROPS_NODES ?? 6));
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;
const config = makeConfig('lan');
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
const HOSTILE = NAMES[0]!;
const HONEST = NAMES.slice(1);
const WARMUP_MS = 3000;
const WINDOW_MS = 20_000;
const SETTLE_MS = 30_000;

t.comment(`hostile store props: ${N} nodes (${HOSTILE} hostile), ${RUNS} runs, PROPS_SEED=${SEED}`);

type Kind =
  | 'epoch_max'
  | 'epoch_far'
  | 'foreign_actor'
  | 'shared_owned_key'
  | 'wrong_bucket'
  | 'own_doc_foreign_key'
  | 'garbage'
  | 'same_epoch'
  | 'near_epoch';
/** Forgeries the store cannot tell from the owner without signatures: allowed to show until the owner's next epoch. */
const UNDETECTABLE: readonly Kind[] = ['same_epoch', 'near_epoch'];
const KINDS: readonly Kind[] = [
  'epoch_max',
  'epoch_far',
  'foreign_actor',
  'shared_owned_key',
  'wrong_bucket',
  'own_doc_foreign_key',
  'garbage',
  'same_epoch',
  'near_epoch',
];

interface Forgery {
  at: number;
  kind: Kind;
  victim: string;
  /** Which honest node receives it. */
  to: string;
}

const honestArb = fc.integer({ min: 0, max: HONEST.length - 1 }).map((i) => HONEST[i]!);
const forgeryArb: fc.Arbitrary<Forgery> = fc.record({
  at: fc.integer({ min: 0, max: WINDOW_MS }),
  kind: fc.constantFrom(...KINDS),
  victim: honestArb,
  to: honestArb,
});
const writeArb = fc.record({
  at: fc.integer({ min: 0, max: WINDOW_MS }),
  node: honestArb,
  key: fc.constantFrom('node', 'svc'),
});

const FORGED = 'mallory';
const FORGED_UNDETECTABLE = 'mallory-undetectable';

function forge(c: StoreCluster, f: Forgery): Uint8Array {
  const by = UNDETECTABLE.includes(f.kind) ? FORGED_UNDETECTABLE : FORGED;
  const records = { [`node/${f.victim}`]: { by, n: -1 }, [`svc/web/${f.victim}/1`]: { by, n: -1 } };
  const now = c.membership.host(f.to).now;
  const victimEpoch = c.isUp(f.victim) ? c.store(f.victim).ownEpoch : Math.max(1, Math.floor(now));
  switch (f.kind) {
    case 'epoch_max':
      return forgedOwnDocPush(f.victim, 2 ** 53 - 1, records);
    case 'epoch_far':
      return forgedOwnDocPush(f.victim, Math.floor(now) + 365 * 86400_000, records);
    case 'foreign_actor':
      return forgedOwnDocPush(f.victim, victimEpoch + 1, records, actorId(HOSTILE, victimEpoch + 1));
    case 'shared_owned_key':
      return sharedWritePush(`svc/web/${f.victim}/1`, { by, n: -1 });
    case 'wrong_bucket': {
      const key = `kv/of-${f.victim}`;
      return sharedWritePush(key, { by, n: -1 }, (bucketOf(key) + 1) % SHARED_BUCKETS);
    }
    case 'own_doc_foreign_key': {
      const e = Math.floor(now) + 1000;
      return forgedOwnDocPush(HOSTILE, e, records);
    }
    case 'garbage':
      return Buffer.from(`\x01\x02not a message for ${f.victim}`);
    case 'same_epoch':
      return forgedOwnDocPush(f.victim, victimEpoch, records);
    case 'near_epoch':
      return forgedOwnDocPush(f.victim, Math.floor(now) + 10 * 60_000, records);
  }
}

/** Every record under an honest node's own key spaces, as node `at` reads it (both views). */
function forgedVisible(c: StoreCluster, at: string, marker: string): string | undefined {
  for (const view of ['all', 'live'] as const) {
    for (const r of c.store(at).entries('', { view })) {
      if ((r.value as { by?: string } | null)?.by === marker)
        return `${at} shows ${r.key} = ${JSON.stringify(r.value)} (owner ${r.owner}, ${view} view)`;
    }
  }
  return undefined;
}

t.test("a hostile member never changes another node's records, and the cluster still converges", async (t) => {
  const meter = new PropertyMeter();
  let forgeries = 0;
  let rejected = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      fc.array(forgeryArb, { minLength: 1, maxLength: 30 }),
      fc.array(writeArb, { minLength: 1, maxLength: 30 }),
      (seed, forgeriesList, writes) => {
        const c = new StoreCluster({
          nodes: N,
          seed,
          config,
          keyOwner: recordOwner,
          replication: { repairIntervalMs: 500 },
        });
        meter.run(c);
        c.run(WARMUP_MS);
        const report = (detail: string) =>
          `cluster seed ${seed}; forgeries ${JSON.stringify(forgeriesList)}; writes ${JSON.stringify(writes)}\n${detail}`;
        let counter = 0;
        for (const w of writes) {
          c.membership.scheduler.at(c.now + w.at, () => {
            const key = w.key === 'node' ? `node/${w.node}` : `svc/web/${w.node}/1`;
            c.write(w.node, key, { by: w.node, n: ++counter });
          });
        }
        const hostileAddr = c.membership.host(HOSTILE).addr;
        for (const f of forgeriesList) {
          c.membership.scheduler.at(c.now + f.at, () =>
            c.inject(f.to, { addr: hostileAddr, port: STORE_PORT }, forge(c, f)),
          );
        }
        forgeries += forgeriesList.length;
        // never: checked every 250 ms of the window and the settling after it
        let problem: string | undefined;
        const check = () => {
          for (const n of c.upNodes()) if (n !== HOSTILE) problem ??= forgedVisible(c, n, FORGED);
          return problem !== undefined;
        };
        c.runUntilTrue(check, WINDOW_MS + 1000, 250);
        if (problem) throw new Error(report(`a detectable forgery was accepted: ${problem}`));
        // eventually: converged, and each honest node's records everywhere as it holds them
        const settled = () => {
          if (check() || !c.storesAgree()) return false;
          for (const n of c.upNodes()) {
            if (n === HOSTILE) continue;
            if (forgedVisible(c, n, FORGED_UNDETECTABLE)) return false;
            for (const v of HONEST) {
              for (const key of [`node/${v}`, `svc/web/${v}/1`]) {
                if (
                  JSON.stringify(c.store(n).get(key, { view: 'all' })) !==
                  JSON.stringify(c.store(v).get(key, { view: 'all' }))
                )
                  return false;
              }
            }
          }
          return true;
        };
        const done = c.runUntilTrue(settled, SETTLE_MS, 250);
        if (problem) throw new Error(report(`a detectable forgery was accepted: ${problem}`));
        if (done === undefined) {
          const left = c
            .upNodes()
            .map((n) => forgedVisible(c, n, FORGED_UNDETECTABLE))
            .filter(Boolean);
          throw new Error(
            report(
              `not settled ${SETTLE_MS} ms after the forging stopped: digest groups ${JSON.stringify(c.rootGroups())}; forged records left: ${left.join('; ') || 'none'}`,
            ),
          );
        }
        for (const n of HONEST) if (c.isUp(n)) rejected += c.store(n).stats().remoteRejected;
        // the own documents stayed each owner's
        for (const v of HONEST)
          if (c.isUp(v) && c.store(v).doc(ownDocId(v)) === undefined)
            throw new Error(report(`${v} lost its own document`));
        return true;
      },
    ),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH, endOnFailure: true } : {}) },
  );
  t.comment(`${forgeries} forgeries injected, ${rejected} remote changes rejected at honest nodes`);
  meter.report(t, 'hostile member: no detectable forgery accepted, converged', N, SEED);
  t.pass('held in every run');
});

// A compromised member in the simulated store cluster with identity on (issue 13): node-0
// holds the cluster key AND a valid certificate of its own, and besides its honest store
// it sends forged replication messages: changes to other nodes' documents at their current
// epoch and a little ahead (what admission.ts alone cannot tell from the owner), unsigned,
// signed with its own certificate, carrying a signature stolen from the victim's real
// change, or garbage; shared changes written under the victim's actor; and replays of the
// victims' own earlier signed changes (older epochs included). Honest nodes write their own
// records all along.
//
// Properties:
//   never      no forged record is ever visible at any honest node (no "undetectable"
//              kind remains: the signature says who wrote it);
//   eventually once the forging stops, every node converges, and each honest node's
//              records read everywhere as that node last wrote them.
//
//   PROPS_RUNS (default 5), PROPS_NODES (default 5), PROPS_SEED, PROPS_PATH as props/store.test.ts
//   IDENTITY_OFF=1 runs the same attacks without identity (it must fail: the check that
//   the property can fail).
import fc from 'fast-check';
import t from 'tap';
import { PropertyMeter } from './report.js';
import { makeConfig } from '../membership/core/config.js';
import { actorId, bucketOf, ownDocId } from '../crdt-store/names.js';
import { SignedChanges } from '../crdt-store/change-auth.js';
import type { LocalChange } from '../crdt-store/local-store.js';
import { encode, changeId, NO_FORWARD } from '../crdt-store/replication/wire.js';
import { recordOwner } from '../records/schema.js';
import { forgedOwnDocPush, sharedWritePush, type ForgeSigner } from '../bench/hostile/store-forge.js';
import { StoreCluster, STORE_PORT } from './sim/store-cluster.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 5);
const N = Math.max(3, Number(process.env.PROPS_NODES ?? 5));
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;
const IDENTITY = process.env.IDENTITY_OFF !== '1';
const config = makeConfig('lan');
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
const HOSTILE = NAMES[0]!;
const HONEST = NAMES.slice(1);
const WARMUP_MS = 3000;
const WINDOW_MS = 15_000;
const SETTLE_MS = 30_000;
const FORGED = 'mallory';

const KINDS = [
  'same_epoch_unsigned',
  'same_epoch_own_sig',
  'near_epoch_own_sig',
  'stolen_sig',
  'garbage_sig',
  'shared_as_victim',
  'replay',
] as const;
type Kind = (typeof KINDS)[number];

interface Forgery {
  at: number;
  kind: Kind;
  victim: string;
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

t.test(
  "a compromised member with its own certificate never changes another node's records",
  { skip: skipUnless({ commands: ['openssl'] }) },
  async (t) => {
    const pki = makePki(NAMES);
    t.teardown(() => pki.cleanup());
    const base = Date.now();
    const ids = new Map(NAMES.map((n) => [n, pki.identity(n, base)]));
    const hostileAuth = new SignedChanges(ids.get(HOSTILE)!, { clockOffsetMs: base });
    const meter = new PropertyMeter();
    let forgeries = 0;
    let rejected = 0;
    const reasons: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.array(forgeryArb, { minLength: 1, maxLength: 25 }),
        fc.array(writeArb, { minLength: 1, maxLength: 25 }),
        (seed, forgeriesList, writes) => {
          // The victims' real signed changes, as the hostile node sees them pass (to steal and replay).
          const seen = new Map<string, LocalChange[]>();
          const c = new StoreCluster({
            nodes: N,
            seed,
            config,
            keyOwner: recordOwner,
            replication: { repairIntervalMs: 500 },
            auth: IDENTITY ? (name) => new SignedChanges(ids.get(name)!, { clockOffsetMs: base }) : undefined,
            onStart: (name, store) =>
              store.observe({ localChange: (ch) => (seen.get(name) ?? seen.set(name, []).get(name)!).push(ch) }),
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
          const forge = (f: Forgery): Uint8Array => {
            const records = {
              [`node/${f.victim}`]: { by: FORGED, n: -1 },
              [`svc/web/${f.victim}/1`]: { by: FORGED, n: -1 },
            };
            const now = c.membership.host(f.to).now;
            const epoch = c.isUp(f.victim) ? c.store(f.victim).ownEpoch : Math.max(1, Math.floor(now));
            const own: ForgeSigner = (d, ch) => hostileAuth.sign(d, ch);
            const victimChanges = seen.get(f.victim) ?? [];
            const stolen = victimChanges.find((x) => x.auth)?.auth;
            switch (f.kind) {
              case 'same_epoch_unsigned':
                return forgedOwnDocPush(f.victim, epoch, records);
              case 'same_epoch_own_sig':
                return forgedOwnDocPush(f.victim, epoch, records, actorId(f.victim, epoch), own);
              case 'near_epoch_own_sig':
                return forgedOwnDocPush(
                  f.victim,
                  Math.floor(now) + 10 * 60_000,
                  records,
                  actorId(f.victim, Math.floor(now) + 10 * 60_000),
                  own,
                );
              case 'stolen_sig':
                return forgedOwnDocPush(f.victim, epoch, records, actorId(f.victim, epoch), () => stolen);
              case 'garbage_sig':
                return forgedOwnDocPush(f.victim, epoch, records, actorId(f.victim, epoch), () =>
                  new Uint8Array(100).fill(7),
                );
              case 'shared_as_victim': {
                const key = `kv/of-${f.victim}`;
                const session = c.isUp(f.victim) ? c.store(f.victim).session : epoch;
                return sharedWritePush(key, { by: FORGED, n: -1 }, bucketOf(key), actorId(f.victim, session), own);
              }
              case 'replay': {
                const old = victimChanges
                  .slice(0, 4)
                  .map((x) => ({
                    docId: x.docId,
                    epoch: x.epoch,
                    id: changeId(x.hash),
                    change: x.change,
                    ...(x.auth ? { auth: x.auth } : {}),
                  }));
                return encode({ t: 'push', origin: HOSTILE, limit: NO_FORWARD, changes: old });
              }
            }
          };
          const hostileAddr = c.membership.host(HOSTILE).addr;
          for (const f of forgeriesList)
            c.membership.scheduler.at(c.now + f.at, () =>
              c.inject(f.to, { addr: hostileAddr, port: STORE_PORT }, forge(f)),
            );
          forgeries += forgeriesList.length;
          const visible = (at: string): string | undefined => {
            for (const view of ['all', 'live'] as const) {
              for (const r of c.store(at).entries('', { view }))
                if ((r.value as { by?: string } | null)?.by === FORGED)
                  return `${at} shows ${r.key} = ${JSON.stringify(r.value)} (owner ${r.owner}, ${view} view)`;
            }
            return undefined;
          };
          let problem: string | undefined;
          const check = () => {
            for (const n of c.upNodes()) if (n !== HOSTILE) problem ??= visible(n);
            return problem !== undefined;
          };
          c.runUntilTrue(check, WINDOW_MS + 1000, 250);
          if (problem) throw new Error(report(`a forgery was accepted: ${problem}`));
          const settled = () => {
            if (check() || !c.storesAgree()) return false;
            for (const n of c.upNodes()) {
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
          if (problem) throw new Error(report(`a forgery was accepted: ${problem}`));
          if (done === undefined)
            throw new Error(
              report(
                `not settled ${SETTLE_MS} ms after the forging stopped: digest groups ${JSON.stringify(c.rootGroups())}`,
              ),
            );
          for (const n of HONEST) {
            if (!c.isUp(n)) continue;
            rejected += c.store(n).stats().remoteRejected;
            for (const [r, k] of Object.entries(c.store(n).stats().admitRejects))
              if (k > 0) reasons[r] = (reasons[r] ?? 0) + k;
          }
          for (const v of HONEST)
            if (c.isUp(v) && c.store(v).doc(ownDocId(v)) === undefined)
              throw new Error(report(`${v} lost its own document`));
          return true;
        },
      ),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH, endOnFailure: true } : {}) },
    );
    t.comment(
      `${forgeries} forgeries injected, ${rejected} remote changes rejected at honest nodes, by reason ${JSON.stringify(reasons)}`,
    );
    meter.report(
      t,
      `compromised member with a certificate: no forgery accepted, converged (identity ${IDENTITY ? 'on' : 'OFF'})`,
      N,
      SEED,
    );
    t.pass('held in every run');
  },
);

// Views against a model of what each view must show: for every key, the first holder (in
// resolution order) that may hold it, and for live whose owner is alive too. Views keeps
// live only where it differs from all (views.ts); the model keeps both views whole, as
// Views did before, with the same event rule. Random holders, liveness changes and
// refreshes; after each step both must show the same record objects, the same entries and
// counts, and have queued the same events.
import t from 'tap';
import fc from 'fast-check';
import { Holders, Views, VIEWS, type ViewName, type WatchEvent } from './views.js';
import { textOf, type StoreRecord } from './replica-doc.js';
import { docOf } from './replica-doc.fixture.js';
import { SHARED_OWNER } from './names.js';

const KEYS = ['k0', 'k1', 'k2'];
const OWNERS = [SHARED_OWNER, 'a', 'b', 'c'];

type Step =
  | { op: 'add'; doc: number; key: number }
  | { op: 'remove'; doc: number; key: number }
  | { op: 'live'; owner: number; on: boolean }
  | { op: 'refresh'; key: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), doc: fc.nat(7), key: fc.nat(2) }),
  fc.record({ op: fc.constant('remove' as const), doc: fc.nat(7), key: fc.nat(2) }),
  fc.record({ op: fc.constant('live' as const), owner: fc.nat(3), on: fc.boolean() }),
  fc.record({ op: fc.constant('refresh' as const), key: fc.nat(2) }),
);

t.test('Views shows what a model of both whole views shows, and queues the same events', async (t) => {
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 60 }),
      fc.nat(KEYS.length * OWNERS.length),
      fc.array(fc.subarray(KEYS), { minLength: 8, maxLength: 8 }),
      (steps, barred, docKeys) => {
        // Two documents per owner (two epochs: a new one replaces the old as holder), each
        // holding some keys; one (key, owner) pair may not be held (the key-space rule).
        const docs = docKeys.map((keys, i) => {
          const owner = OWNERS[i % OWNERS.length];
          return docOf(owner, Object.fromEntries(keys.map((k) => [k, `${owner}${i}:${k}`])));
        });
        const mayHold = (key: string, owner: string) =>
          KEYS.indexOf(key) * OWNERS.length + OWNERS.indexOf(owner) !== barred;
        const live = new Set<string>([SHARED_OWNER]);
        const isLive = (owner: string) => live.has(owner);
        const holders = new Holders();
        const views = new Views(holders, mayHold, isLive);
        const heard: Record<ViewName, WatchEvent[]> = { all: [], live: [] };
        for (const v of VIEWS) views.watch('', (e) => heard[v].push(e), v);

        const model: Record<ViewName, Map<string, StoreRecord>> = { all: new Map(), live: new Map() };
        const expected: Record<ViewName, WatchEvent[]> = { all: [], live: [] };
        const refreshModel = (key: string) => {
          for (const v of VIEWS) {
            const accept = (o: string) => mayHold(key, o) && (v === 'all' || isLive(o));
            const after = holders.first(key, accept)?.record(key);
            const before = model[v].get(key);
            if (after) model[v].set(key, after);
            else model[v].delete(key);
            if (after === before) continue;
            if (after && before && after.owner === before.owner && textOf(after) === textOf(before)) continue;
            expected[v].push({ key, before, after, initial: false });
          }
        };
        const refresh = (key: string) => {
          refreshModel(key);
          views.refresh(key);
        };

        for (const s of steps) {
          if (s.op === 'add' || s.op === 'remove') {
            const doc = docs[s.doc];
            const key = KEYS[s.key];
            // A holder may show nothing for its key (a value readers cannot take): the next
            // live holder may then show one where all shows none.
            if (s.op === 'add') holders.add(key, doc);
            if (s.op === 'remove') holders.remove(key, doc);
            refresh(key);
          } else if (s.op === 'live') {
            if (s.on) live.add(OWNERS[s.owner]);
            else if (OWNERS[s.owner] !== SHARED_OWNER) live.delete(OWNERS[s.owner]);
            for (const k of KEYS) refresh(k);
          } else refresh(KEYS[s.key]);
          views.flush();
          for (const v of VIEWS) {
            for (const k of KEYS) if (views.get(k, v) !== model[v].get(k)) return false;
            const shown = views.entries('', v);
            const want = [...model[v].values()].sort((x, y) => (x.key < y.key ? -1 : 1));
            if (shown.length !== want.length || shown.some((r, i) => r !== want[i])) return false;
            if (views.count(v) !== model[v].size) return false;
            if (views.entries('k1', v).length !== (model[v].has('k1') ? 1 : 0)) return false;
          }
        }
        for (const v of VIEWS) {
          const got = heard[v].filter((e) => !e.initial);
          if (got.length !== expected[v].length) return false;
          for (let i = 0; i < got.length; i++) {
            const [g, w] = [got[i], expected[v][i]];
            if (g.key !== w.key || g.before !== w.before || g.after !== w.after) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

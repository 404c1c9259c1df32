// Fuzz of the file loader: whatever the data directory holds, opening the store never
// throws, keeps a prefix of the writes in log order, and reports every damage.
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './open.js';
import { LOG_FILE, SNAPSHOT_FILE } from './journal.js';
import { frameRecord } from './records.js';
import { Packr } from 'msgpackr';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const WRITES = 20;
const clock = () => 5_000;

/** A data directory holding a snapshot (with a1..a5) and a log with k/0..k/19 in order. */
function baseline(): { log: Buffer; snapshot: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-fuzz-base-'));
  const a = openStore(dir, { name: 'n1', clock });
  for (let i = 1; i <= 5; i++) a.store.put(`a${i}`, i);
  a.journal.compact([...a.store.documents()].map((d) => ({ docId: d.id, epoch: d.epoch, bytes: d.save() })));
  for (let i = 0; i < WRITES; i++) a.store.put(`k/${i}`, { i }, { durable: true });
  a.close();
  const out = { log: readFileSync(join(dir, LOG_FILE)), snapshot: readFileSync(join(dir, SNAPSHOT_FILE)) };
  rmSync(dir, { recursive: true });
  return out;
}

const base = baseline();
const work = mkdtempSync(join(tmpdir(), 'weft-fuzz-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
let n = 0;

/** Opens a store over these file contents; returns what it kept and reported. */
function load(log: Uint8Array | undefined, snapshot: Uint8Array | undefined) {
  const dir = join(work, String(n++));
  const s = openStore(dir, { name: 'n1', clock });
  s.close();
  rmSync(join(dir, LOG_FILE), { force: true });
  if (log) writeFileSync(join(dir, LOG_FILE), log);
  if (snapshot) writeFileSync(join(dir, SNAPSHOT_FILE), snapshot);
  else rmSync(join(dir, SNAPSHOT_FILE), { force: true });
  const errors: string[] = [];
  const opened = openStore(dir, { name: 'n1', clock, onError: (_e, ctx) => errors.push(ctx) });
  const keys = opened.store.keys('k/', { view: 'all' });
  const problems = opened.problems;
  // Whatever was kept can be written to and read back.
  opened.store.put('after', 1, { durable: true });
  opened.close();
  const again = openStore(dir, { name: 'n1', clock });
  const reopened = {
    keys: again.store.keys('k/', { view: 'all' }),
    after: again.store.get('after')?.value,
    problems: again.problems,
  };
  again.close();
  rmSync(dir, { recursive: true });
  return { keys, problems, errors, reopened };
}

const order = Array.from({ length: WRITES }, (_, i) => `k/${i}`);
const isPrefix = (keys: string[]) => {
  const sorted = [...keys].sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  return sorted.every((k, i) => k === order[i]);
};

t.test('the untouched files load whole', async (t) => {
  const r = load(base.log, base.snapshot);
  t.same(r.problems, []);
  t.equal(r.keys.length, WRITES);
});

t.test('a log cut anywhere keeps a prefix; only a cut inside a record is reported, as a torn tail', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: base.log.length }), (cut) => {
      const r = load(base.log.subarray(0, cut), base.snapshot);
      if (!isPrefix(r.keys)) throw new Error(`cut at ${cut}: kept ${r.keys} is not a prefix`);
      if (r.problems.some((p) => p.kind !== 'torn-tail'))
        throw new Error(`cut at ${cut}: ${r.problems.map((p) => p.message)}`);
      if (cut === base.log.length && (r.keys.length !== WRITES || r.problems.length))
        throw new Error('the whole log lost something');
      if (r.reopened.after !== 1 || r.reopened.problems.length || r.reopened.keys.length !== r.keys.length)
        throw new Error(`cut at ${cut}: not clean after recovery`);
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('any byte flipped in the log: reported, a prefix kept, never a throw', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: base.log.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const log = Buffer.from(base.log);
      log[at] ^= x;
      const r = load(log, base.snapshot);
      if (r.problems.length !== 1) throw new Error(`flip at ${at}: ${r.problems.length} problems reported`);
      if (!isPrefix(r.keys)) throw new Error(`flip at ${at}: kept ${r.keys}`);
      if (!r.problems[0].message.includes(LOG_FILE)) throw new Error('the report does not name the file');
      if (r.reopened.after !== 1 || r.reopened.problems.length)
        throw new Error(`flip at ${at}: not clean after recovery`);
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

// The log holds history since the snapshot, as increments on it: a document whose
// snapshot record is lost cannot be rebuilt from the log alone (its peers still hold it).
t.test('any damage to the snapshot: reported, what is kept is consistent, never a throw', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: base.snapshot.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      fc.boolean(),
      (at, x, cut) => {
        const snap = Buffer.from(base.snapshot);
        snap[at] ^= x;
        const r = load(base.log, cut ? snap.subarray(0, at) : snap);
        if (r.problems.length !== 1 || r.problems[0].kind !== 'corrupt')
          throw new Error(`snapshot damage at ${at}: ${r.problems.map((p) => p.message)}`);
        if (!isPrefix(r.keys)) throw new Error(`snapshot damage at ${at}: kept ${r.keys}`);
        if (r.reopened.after !== 1 || r.reopened.problems.length)
          throw new Error(`snapshot damage at ${at}: not clean after recovery`);
        return true;
      },
    ),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('random bytes, and well-framed records with random payloads', async (t) => {
  const packr = new Packr({ useRecords: false });
  const header = base.log.subarray(0, 8);
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc
      .tuple(
        fc.constantFrom(1, 2, 3, 9, 7),
        fc.string(),
        fc.oneof(fc.integer(), fc.double()),
        fc.uint8Array({ maxLength: 64 }),
      )
      .map((v) => packr.pack(v)),
    fc
      .tuple(fc.constant(1), fc.constantFrom('n/n1', 'n/x', 's/3'), fc.nat(), fc.uint8Array({ maxLength: 200 }))
      .map((v) => packr.pack(v)),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(payload, { maxLength: 5 }).map((ps) => Buffer.concat([header, ...ps.map(frameRecord)])),
      ),
      fc.boolean(),
      (bytes, asSnapshot) => {
        const r = asSnapshot ? load(undefined, bytes) : load(bytes, undefined);
        if (r.reopened.after !== 1 || r.reopened.problems.length) throw new Error('not clean after recovery');
        return true;
      },
    ),
    { numRuns: RUNS },
  );
  t.ok(existsSync(work));
});

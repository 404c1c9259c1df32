// The scheduler and rise/fall on a simulated clock: deterministic, no I/O.
import t from 'tap';
import { seededRng } from '../base/rng.js';
import type { CheckRecord } from '../records/checks.js';
import { CheckScheduler, type Outcome } from './scheduler.js';
import { step, initialState } from './state.js';

const check = (over: Partial<CheckRecord> = {}): CheckRecord => ({
  name: 'http',
  kind: 'http',
  target: ':8080/healthz',
  intervalMs: 1000,
  timeoutMs: 500,
  rise: 2,
  fall: 3,
  status: 'critical',
  output: 'not run yet',
  ...over,
});
const pass: Outcome = { status: 'passing', output: 'HTTP 200' };
const fail: Outcome = { status: 'critical', output: 'HTTP 503' };

/** Runs the one check `id` through outcomes, one per interval; the statuses after each. */
function drive(s: CheckScheduler, id: string, outcomes: Outcome[], start = 0): string[] {
  const seen: string[] = [];
  let now = start;
  for (const o of outcomes) {
    now = Math.max(now, s.nextDeadline());
    const due = s.due(now).find((d) => d.id === id)!;
    s.finish(id, due.gen, now, now + 5, o);
    seen.push(s.status(id)!.status);
  }
  return seen;
}

t.test('rise and fall: fall failures in a row to go critical, rise passes in a row to come back', async (t) => {
  const s = new CheckScheduler(seededRng(1));
  s.upsert('a', check(), 0);
  t.same(drive(s, 'a', [pass]), ['passing'], 'the first pass of a new check counts at once');
  t.same(
    drive(s, 'a', [fail, fail, pass, fail, fail]),
    ['passing', 'passing', 'passing', 'passing', 'passing'],
    'two failures, a pass, two failures: never three in a row',
  );
  t.same(drive(s, 'a', [fail]), ['critical'], 'the third failure in a row');
  t.same(drive(s, 'a', [pass, fail, pass]), ['critical', 'critical', 'critical'], 'one pass is not enough');
  t.same(drive(s, 'a', [pass]), ['passing'], 'two passes in a row');
});

t.test('the first result is reported even when the status stays critical', async (t) => {
  const s = new CheckScheduler(seededRng(1));
  s.upsert('a', check(), 0);
  const d = s.due(s.nextDeadline())[0]!;
  t.same(s.finish('a', d.gen, 0, 1, fail), { id: 'a', status: 'critical', output: 'HTTP 503' });
  const d2 = s.due(s.nextDeadline())[0]!;
  t.equal(s.finish('a', d2.gen, 0, 1, fail), undefined, 'then only changes');
});

t.test('a transition is reported once, with its output bounded', async (t) => {
  const s = new CheckScheduler(seededRng(1));
  s.upsert('a', check({ fall: 1 }), 0);
  const d = s.due(s.nextDeadline())[0]!;
  t.same(s.finish('a', d.gen, 0, 1, pass), { id: 'a', status: 'passing', output: 'HTTP 200' });
  const d2 = s.due(s.nextDeadline())[0]!;
  t.equal(s.finish('a', d2.gen, 0, 1, pass), undefined, 'no change, nothing reported');
  const d3 = s.due(s.nextDeadline())[0]!;
  const tr = s.finish('a', d3.gen, 0, 1, { status: 'critical', output: 'x'.repeat(10_000) });
  t.equal(tr?.status, 'critical');
  t.ok(tr!.output.length <= 200, 'output bounded');
});

t.test(
  'first runs are spread over the interval by the injected rng, and the same seed gives the same schedule',
  async (t) => {
    const firstRuns = (seed: number) => {
      const s = new CheckScheduler(seededRng(seed));
      for (let i = 0; i < 500; i++) s.upsert(`c${i}`, check({ name: `c${i}` }), 0);
      const at: number[] = [];
      for (let now = 0; now <= 1000; now += 10) at.push(s.due(now).length);
      return at;
    };
    const a = firstRuns(7);
    t.same(a, firstRuns(7), 'deterministic');
    t.equal(
      a.reduce((x, y) => x + y, 0),
      500,
      'every check runs once in its first interval',
    );
    t.ok(Math.max(...a) < 25, `no more than a few percent start in any 10 ms (max ${Math.max(...a)})`);
  },
);

t.test('a check runs every interval, one probe at a time', async (t) => {
  const s = new CheckScheduler(seededRng(3));
  s.upsert('a', check(), 0);
  const first = s.nextDeadline();
  const d = s.due(first)[0]!;
  t.same(s.due(first + 5000), [], 'not again while its probe is in flight');
  s.finish('a', d.gen, first, first + 300, pass);
  t.equal(s.nextDeadline(), first + 1000, 'next run one interval after the last start');
});

t.test("a changed definition starts over, and the old probe's result is dropped", async (t) => {
  const s = new CheckScheduler(seededRng(3));
  s.upsert('a', check(), 0);
  const d = s.due(s.nextDeadline())[0]!;
  s.upsert('a', check({ target: ':9090/' }), 10);
  t.equal(s.finish('a', d.gen, 0, 20, pass), undefined, 'the result of the old definition does not count');
  s.upsert('a', check({ target: ':9090/' }), 10);
  t.equal(s.status('a')!.status, 'critical', 'an unchanged upsert keeps state');
  s.remove('a');
  t.equal(s.nextDeadline(), Infinity);
});

t.test('ttl: critical until pushed, pushes set the status at once, expiry turns it critical', async (t) => {
  const s = new CheckScheduler(seededRng(1));
  s.upsert('t', check({ name: 'ttl', kind: 'ttl', target: '', ttlMs: 10_000, intervalMs: 10_000 }), 0);
  t.same(s.due(100_000), [], 'ttl checks run nothing');
  t.same(s.push('t', 1000, pass), { id: 't', status: 'passing', output: 'HTTP 200' });
  t.same(s.expire(10_999), [], 'not yet');
  t.same(s.push('t', 5000, { status: 'warning', output: 'slow' }), { id: 't', status: 'warning', output: 'slow' });
  t.same(s.expire(14_999), []);
  const ex = s.expire(15_000);
  t.equal(ex.length, 1);
  t.equal(ex[0]!.status, 'critical');
  t.match(ex[0]!.output, /TTL expired/);
  t.same(s.expire(100_000), [], 'expired once');
  t.equal(s.push('x', 0, pass), 'not-ttl');
  t.same(s.counts(), { passing: 0, warning: 0, critical: 1 });
});

t.test('warning and passing switch at once; warning is not a failure for fall', async (t) => {
  let st = initialState('passing');
  st = step(st, 'warning', 2, 1);
  t.equal(st.status, 'warning');
  st = step(st, 'passing', 2, 1);
  t.equal(st.status, 'passing');
  st = step(st, 'critical', 2, 1);
  t.equal(st.status, 'critical', 'fall 1: the first failure');
  st = step(st, 'warning', 2, 1);
  t.equal(st.status, 'critical', 'rise 2: one warning is not enough');
  st = step(st, 'warning', 2, 1);
  t.equal(st.status, 'warning');
});

// A peer that announces made-up change ids (on its pushes, or in ihaves) makes this node
// wait for them, graft by graft: the waiting is bounded (MAX_PENDING_GRAFTS), whatever it sends.
import t from 'tap';
import { LocalStore } from '../local-store.js';
import { DEFAULT_REPLICATION } from './core.js';
import { FastPath, MAX_PENDING_GRAFTS } from './fast-path.js';
import { BroadcastRing } from './ring.js';
import { costGrowth } from '../../test/helpers/cost.js';

const hostile = { addr: '127.0.0.66', port: 7 };

function fastPath(sent: unknown[] = []): FastPath {
  const store = new LocalStore({ name: 'n1', clock: () => 1_000 });
  return new FastPath('n1', store, new BroadcastRing(0), new BroadcastRing(1), DEFAULT_REPLICATION, (_to, m) =>
    sent.push(m),
  );
}

/** Announces `count` made-up ids at `now`, 64 to a push. */
function announce(fast: FastPath, now: number, count: number, tag = ''): void {
  for (let i = 0; i < count; i += 64) {
    const ann = Array.from({ length: Math.min(64, count - i) }, (_, j) => `fake-${tag}${i}-${j}`);
    fast.onPush(now, hostile, { t: 'push', origin: 'evil', limit: 0, changes: [], ann });
  }
}

t.test('made-up ids on pushes cannot grow the pending grafts past the bound', (t) => {
  const fast = fastPath();
  announce(fast, 1_000, 64_000);
  t.equal(fast.pendingGrafts, MAX_PENDING_GRAFTS, `64,000 made-up ids: ${fast.pendingGrafts} waited for`);
  t.equal(fast.stats.graftsRefused, 64_000 - MAX_PENDING_GRAFTS, 'the rest refused and counted');
  t.end();
});

t.test('with the most grafts pending, a packet still costs what it costs with a few', async (t) => {
  // After every packet the driver asks for the next deadline; it walked every pending graft.
  const g = costGrowth(
    { small: 64, large: MAX_PENDING_GRAFTS },
    (n) => {
      const fast = fastPath();
      announce(fast, 1_000, n);
      return fast;
    },
    (fast) => fast.nextDeadline(),
    200_000,
  );
  // Nanoseconds either way now: their ratio is noise, so the bound is absolute (the walk took ~12 µs).
  t.ok(g.large < 1_000, `ns per deadline: ${g.small.toFixed(0)} with 64, ${g.large.toFixed(0)} with 4,096`);
});

t.test('grafts are asked for when due, retried, and given up after their tries, with deadlines to match', async (t) => {
  const sent: { t: string; ids?: string[] }[] = [];
  const fast = fastPath(sent as unknown[]);
  const delay = DEFAULT_REPLICATION.graftDelayMs;
  announce(fast, 1_000, 2, 'a');
  t.equal(fast.nextDeadline(), 1_000 + delay, 'the first graft is due after graftDelayMs');
  announce(fast, 1_005, 1, 'b');
  fast.tick(1_000 + delay - 1);
  t.equal(sent.length, 0, 'nothing before then');
  fast.tick(1_000 + delay);
  t.same(sent.at(-1), { t: 'graft', ids: ['fake-a0-0', 'fake-a0-1'] }, 'the two due, in one graft to their announcer');
  t.equal(fast.nextDeadline(), 1_005 + delay, 'next: the one announced later');
  fast.tick(1_005 + delay);
  t.same(sent.at(-1), { t: 'graft', ids: ['fake-b0-0'] });
  t.equal(fast.nextDeadline(), 1_000 + delay + 2 * delay, 'then the first retry, after twice the delay');
  let now = 1_000;
  for (let i = 0; i < 10; i++) fast.tick((now += 1_000));
  t.equal(fast.pendingGrafts, 0, 'given up after their tries');
  t.equal(
    sent.reduce((n, m) => n + (m.ids?.length ?? 0), 0),
    9,
    'three tries each',
  );
  t.equal(fast.nextDeadline(), Infinity, 'no deadline left');
});

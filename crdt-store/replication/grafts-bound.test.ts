// A peer that announces made-up change ids (on its pushes, or in ihaves) makes this node
// wait for them, graft by graft: the waiting is bounded (MAX_PENDING_GRAFTS), whatever it sends.
import t from 'tap';
import { LocalStore } from '../local-store.js';
import { DEFAULT_REPLICATION } from './core.js';
import { FastPath, MAX_PENDING_GRAFTS } from './fast-path.js';
import { BroadcastRing } from './ring.js';

t.test('made-up ids on pushes cannot grow the pending grafts past the bound', (t) => {
  const store = new LocalStore({ name: 'n1', clock: () => 1_000 });
  const sent: unknown[] = [];
  const fast = new FastPath('n1', store, new BroadcastRing(0), new BroadcastRing(1), DEFAULT_REPLICATION, (_to, m) =>
    sent.push(m),
  );
  const hostile = { addr: '127.0.0.66', port: 7 };
  for (let i = 0; i < 1_000; i++) {
    const ann = Array.from({ length: 64 }, (_, j) => `fake-${i}-${j}`);
    fast.onPush(1_000, hostile, { t: 'push', origin: 'evil', limit: 0, changes: [], ann });
  }
  t.equal(fast.pendingGrafts, MAX_PENDING_GRAFTS, `64,000 made-up ids: ${fast.pendingGrafts} waited for`);
  t.equal(fast.stats.graftsRefused, 64_000 - MAX_PENDING_GRAFTS, 'the rest refused and counted');
  t.end();
});

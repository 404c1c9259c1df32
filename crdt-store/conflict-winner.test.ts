// The README's merge rule, checked directly: of two concurrent writes of one key, the one
// with the greater Lamport counter wins on every replica, whichever node's actor id sorts
// first. The older test ("concurrent shared writes") only checks that replicas agree, which
// a store taking the lowest op id as the winner also does (test/mutants/store-conflict-winner.patch).
import t from 'tap';
import { LocalStore } from './local-store.js';

const store = (name: string) => new LocalStore({ name, clock: () => 1_000 });

/** Every document `from` holds, replayed into `to` as whole documents. */
function copyAll(from: LocalStore, to: LocalStore): void {
  for (const d of from.documents()) to.applyRemote(d.id, d.epoch, [d.save()]);
}

/**
 * `busy` writes the key `rounds` times (its last write has Lamport counter `rounds`), `idle`
 * writes it once (counter 1), neither having seen the other's: `busy`'s last write wins.
 */
function race(busyName: string, idleName: string, rounds: number) {
  const busy = store(busyName);
  const idle = store(idleName);
  for (let i = 1; i <= rounds; i++) busy.put('cfg', `${busyName}-${i}`, { shared: true });
  idle.put('cfg', `${idleName}-1`, { shared: true });
  copyAll(busy, idle);
  copyAll(idle, busy);
  return { busy: busy.get('cfg')?.value, idle: idle.get('cfg')?.value, want: `${busyName}-${rounds}` };
}

t.test('concurrent writes: the greater Lamport counter wins on every replica, in both actor orders', async (t) => {
  // Both name orders, so neither "lowest op id" nor "actor that sorts first" can pass.
  for (const [busy, idle] of [
    ['a', 'b'],
    ['b', 'a'],
    ['node-9', 'node-1'],
    ['node-1', 'node-9'],
  ]) {
    const r = race(busy, idle, 3);
    t.equal(r.busy, r.want, `${busy} wrote 3 times, ${idle} once: ${busy}'s replica holds ${busy}'s last write`);
    t.equal(r.idle, r.want, `${busy} wrote 3 times, ${idle} once: ${idle}'s replica holds ${busy}'s last write`);
  }
});

t.test('a write made after seeing the other wins, whatever the counters were before', async (t) => {
  const a = store('a');
  const b = store('b');
  for (let i = 1; i <= 5; i++) a.put('cfg', `a-${i}`, { shared: true });
  b.put('cfg', 'b-1', { shared: true });
  copyAll(a, b);
  copyAll(b, a);
  // b has now seen a's counter 5; its next write is stamped 6 and is the later write.
  b.put('cfg', 'b-2', { shared: true });
  copyAll(b, a);
  t.equal(a.get('cfg')?.value, 'b-2');
  t.equal(b.get('cfg')?.value, 'b-2');
});

// A start's new epoch goes out with the node's first write, in one push (core.ts
// holdOwnEpoch): two pushes could arrive in either order, and a write that comes before
// its epoch waits for it at every receiver. Without a write it goes alone, ownEpochHoldMs
// after the start.
import t from 'tap';
import { LocalStore } from '../local-store.js';
import { DEFAULT_REPLICATION, StoreCore } from './core.js';
import { decode } from './wire.js';
import { Xoshiro128 } from '../../base/rng.js';

const B = { addr: '10.0.0.2', port: 7947 };

function start(now: number): StoreCore {
  const core = new StoreCore({
    store: new LocalStore({ name: 'a', clock: () => now }),
    rng: new Xoshiro128(1),
    now,
    config: { lazyPath: false },
  });
  core.setMembers(now, [{ name: 'b', ...B }]);
  return core;
}

/** The changes in the pushes among `outs`, one list per push. */
function pushes(outs: { kind: string; bytes: Uint8Array }[]): { epoch: number; docId: string }[][] {
  return outs.map((o) => {
    const d = decode(o.bytes);
    if (!d.ok || d.msg.t !== 'push') throw new Error(`not a push: ${JSON.stringify(d)}`);
    return d.msg.changes.map((c) => ({ epoch: c.epoch, docId: c.docId }));
  });
}

t.test("the new epoch rides the node's first write", async (t) => {
  const now = 1_000_000;
  const a = start(now);
  t.same(a.takeOutputs(now), [], 'nothing sent at the start');
  t.equal(a.nextDeadline(), now + DEFAULT_REPLICATION.ownEpochHoldMs, 'a deadline for the epoch alone');
  a.store.put('k', 1);
  const sent = pushes(a.takeOutputs(now + 5));
  t.equal(sent.length, 1, 'one push');
  t.equal(sent[0]!.length, 2, "the epoch's first change and the write");
  t.same(new Set(sent[0]!.map((c) => c.docId)).size, 1, 'both of its own document');
  t.ok(a.nextDeadline() > now + DEFAULT_REPLICATION.ownEpochHoldMs, 'the deadline went with it');
  a.tick(now + DEFAULT_REPLICATION.ownEpochHoldMs);
  t.same(a.takeOutputs(now + DEFAULT_REPLICATION.ownEpochHoldMs), [], 'not sent again');
  a.store.close();
});

t.test('without a write, the new epoch goes alone once the hold is up', async (t) => {
  const now = 1_000_000;
  const a = start(now);
  a.tick(now + DEFAULT_REPLICATION.ownEpochHoldMs - 1);
  t.same(a.takeOutputs(now + DEFAULT_REPLICATION.ownEpochHoldMs - 1), [], 'held');
  a.tick(now + DEFAULT_REPLICATION.ownEpochHoldMs);
  const sent = pushes(a.takeOutputs(now + DEFAULT_REPLICATION.ownEpochHoldMs));
  t.equal(sent.length, 1);
  t.equal(sent[0]!.length, 1, "the epoch's first change alone");
  a.store.put('k', 1);
  const next = pushes(a.takeOutputs(now + 200));
  t.same(
    next.map((p) => p.length),
    [1],
    'the first write then goes alone',
  );
  a.store.close();
});

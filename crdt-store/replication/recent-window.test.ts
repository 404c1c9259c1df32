// The fast path keeps its recent changes (to answer grafts) as where they are in the store,
// not as their bytes (fast-path.ts): a received change's bytes are a view into the packet
// it came in, and keeping the view kept the whole packet, for as long as the window (4,096
// changes) remembers it. A graft is still answered, with the change's exact bytes.
import t from 'tap';
import { LocalStore } from '../local-store.js';
import { StoreCore } from './core.js';
import { decode, encode, type ChangeId } from './wire.js';
import { Xoshiro128 } from '../../base/rng.js';
import { memoryAfterGc } from '../../test/helpers/heap.js';

const A = { addr: '10.0.0.1', port: 7947 };
const B = { addr: '10.0.0.2', port: 7947 };
const C = { addr: '10.0.0.3', port: 7947 };
const PUSHES = 400;
/** Each packet arrives in a buffer this large, as a receive buffer would hold it. */
const PACKET_BUFFER = 64 * 1024;

function node(name: string, now: number): StoreCore {
  return new StoreCore({
    store: new LocalStore({ name, clock: () => now }),
    rng: new Xoshiro128(name.length),
    now,
    config: { lazyPath: false, ownEpochHoldMs: 0 },
  });
}

t.test('received changes do not keep their packets; grafts are answered from the store', async (t) => {
  const now = 1_000_000;
  const a = node('a', now);
  const b = node('b', now);
  a.setMembers(now, [{ name: 'b', ...B }]);
  b.setMembers(now, [
    { name: 'a', ...A },
    { name: 'c', ...C },
  ]);
  const ids: ChangeId[] = [];
  const sent = new Map<ChangeId, Uint8Array>();
  const before = memoryAfterGc().arrayBuffers;
  for (let i = 0; i < PUSHES; i++) {
    a.store.put(`k${i}`, i);
    for (const o of a.takeOutputs(now)) {
      const d = decode(o.bytes);
      if (!d.ok || d.msg.t !== 'push') continue;
      for (const c of d.msg.changes) {
        ids.push(c.id);
        sent.set(c.id, Uint8Array.from(c.change));
      }
      const packet = new Uint8Array(PACKET_BUFFER);
      packet.set(o.bytes);
      b.receivePacket(now, A, packet.subarray(0, o.bytes.length));
    }
    b.takeOutputs(now);
  }
  const held = memoryAfterGc().arrayBuffers - before;
  t.equal(b.store.get(`k${PUSHES - 1}`)?.value, PUSHES - 1, 'b took every push');
  t.ok(
    held < (PUSHES * PACKET_BUFFER) / 4,
    `${(held / 1e6).toFixed(1)} MB of buffers held after ${PUSHES} pushes (${((PUSHES * PACKET_BUFFER) / 1e6).toFixed(1)} MB if every packet were kept)`,
  );

  // c missed three of them, and grafts them from b.
  const want = [ids[0]!, ids[Math.floor(ids.length / 2)]!, ids[ids.length - 1]!];
  b.receivePacket(now, C, encode({ t: 'graft', ids: [...want, 'ffffffffffffffff'] }));
  const answers = b.takeOutputs(now).flatMap((o) => {
    const d = decode(o.bytes);
    return d.ok && d.msg.t === 'push' && o.to.addr === C.addr ? d.msg.changes : [];
  });
  t.same(
    answers.map((c) => c.id),
    want,
    'the three changes asked for, and nothing for an id b never had',
  );
  for (const c of answers) t.same(Uint8Array.from(c.change), sent.get(c.id), `${c.id}: the bytes a sent`);
  a.store.close();
  b.store.close();
});

// One window holds what a node knows of each id (fast-path.ts): pushes are remembered by
// their first change before it is applied, to forward each once. Made-up changes are
// dropped from it once they turn out invalid, so a peer pushing them cannot push the
// real ones out of it (they would be applied again, and no longer answered to a graft).
t.test('made-up changes do not push real ones out of the window', async (t) => {
  const now = 1_000_000;
  const a = node('a', now);
  const b = new StoreCore({
    store: new LocalStore({ name: 'b', clock: () => now }),
    rng: new Xoshiro128(2),
    now,
    config: { lazyPath: false, ownEpochHoldMs: 0, seenCapacity: 64 },
  });
  a.setMembers(now, [{ name: 'b', ...B }]);
  b.setMembers(now, [
    { name: 'a', ...A },
    { name: 'c', ...C },
  ]);
  a.store.put('k', 1);
  const real = a.takeOutputs(now).filter((o) => o.kind === 'packet');
  for (const o of real) b.receivePacket(now, A, o.bytes);
  t.equal(b.store.get('k')?.value, 1);
  const epoch = b.store.doc('n/a')!.epoch;
  for (let i = 0; i < 200; i++) {
    const id = i.toString(16).padStart(16, '0');
    const junk = { docId: 'n/a', epoch, id, change: Uint8Array.from([1, 2, 3, i & 255]) };
    b.receivePacket(now, A, encode({ t: 'push', origin: 'a', limit: 0, changes: [junk] }));
  }
  b.takeOutputs(now);
  t.equal(b.stats().rejects.bad_change, 200, 'every made-up change refused and counted');
  const dupsBefore = b.stats().fastPath.duplicates;
  for (const o of real) b.receivePacket(now, A, o.bytes);
  t.equal(b.stats().fastPath.duplicates - dupsBefore, real.length, 'the real pushes are still known: duplicates');
});

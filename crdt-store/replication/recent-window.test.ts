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

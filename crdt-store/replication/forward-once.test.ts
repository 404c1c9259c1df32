// A push is forwarded once per range it comes with (fast-path.ts): the same push again with
// the same limit is a duplicate, but with another limit (the sender's member list changed)
// it is forwarded for that range too. The window keeps the last limit as two 26-bit halves
// (a 52-bit number in a field is an object of its own), so limits that differ only in their
// low bits, or only in their high bits, must both count as other ranges.
import t from 'tap';
import { LocalStore } from '../local-store.js';
import { StoreCore } from './core.js';
import { decode, encode, NO_FORWARD, type Message } from './wire.js';
import { position52, RING_SIZE } from '../hash.js';
import { Xoshiro128 } from '../../base/rng.js';

const A = { addr: '10.0.0.1', port: 7947 };
const B = { addr: '10.0.0.2', port: 7947 };
const C = { addr: '10.0.0.3', port: 7947 };

t.test('a push is forwarded once per range, whichever bits of the range differ', async (t) => {
  const now = 1_000_000;
  const store = (name: string) => new LocalStore({ name, clock: () => now });
  const core = (name: string) =>
    new StoreCore({ store: store(name), rng: new Xoshiro128(1), now, config: { lazyPath: false, ownEpochHoldMs: 0 } });
  const a = core('a');
  const b = core('b');
  b.setMembers(now, [
    { name: 'a', ...A },
    { name: 'c', ...C },
  ]);
  a.setMembers(now, [{ name: 'b', ...B }]);
  b.takeOutputs(now); // its own epoch's first push
  a.store.put('k', 1);
  const pushes = a.takeOutputs(now).map((o) => decode(o.bytes));
  const pushOf = (d: (typeof pushes)[number]) => (d.ok && d.msg.t === 'push' ? [d.msg] : []);
  // a's epoch's first change, then the change that writes k
  const [first, push] = pushes.flatMap(pushOf) as [Extract<Message, { t: 'push' }>, Extract<Message, { t: 'push' }>];
  b.receivePacket(now, A, encode({ ...first, limit: NO_FORWARD }));

  // A range from b that ends just past c: c is b's child for it.
  const limit = (position52('c', 0) + 1) % RING_SIZE;
  const forwardsTo = (l: number): number => {
    b.receivePacket(now, A, encode({ ...push, limit: l }));
    return b.takeOutputs(now).filter((o) => o.to.addr === C.addr && decode(o.bytes).ok).length;
  };
  t.equal(forwardsTo(limit), 1, 'forwarded to c');
  t.equal(forwardsTo(limit), 0, 'the same range again: not forwarded');
  t.equal(forwardsTo((limit + 1) % RING_SIZE), 1, 'a range whose low bits differ: forwarded');
  t.equal(forwardsTo((limit + 1 + 2 ** 26) % RING_SIZE), 1, 'a range whose high bits differ: forwarded');
  t.equal(forwardsTo((limit + 1 + 2 ** 26) % RING_SIZE), 0, 'and that range again: not forwarded');
  t.equal(b.store.get('k')?.value, 1, 'applied once');
  a.store.close();
  b.store.close();
});

// Only members are heard (core.ts): datagrams from a sender not (yet) a member wait a
// little for it to become one (a joiner's first pushes), then are dropped and counted;
// streams from an address of no member are refused.
import t from 'tap';
import { LocalStore } from '../local-store.js';
import { StoreCore } from './core.js';
import { Xoshiro128 } from '../../base/rng.js';

const A = { addr: '10.0.0.1', port: 7947 };
const B = { addr: '10.0.0.2', port: 7947 };
const X = { addr: '10.0.0.66', port: 7947 };

function node(name: string, now: () => number) {
  return new StoreCore({
    store: new LocalStore({ name, clock: now }),
    rng: new Xoshiro128(name.length),
    now: now(),
    config: { lazyPath: false },
  });
}

t.test("a joiner's first push waits for membership; a stranger's is dropped and counted", async (t) => {
  let now = 1_000_000;
  const a = node('a', () => now);
  const b = node('b', () => now);
  a.setMembers(now, [{ name: 'b', ...B }]);
  b.setMembers(now, []); // b has not heard of a yet
  a.store.put('k', 1);
  const out = a.takeOutputs(now).filter((o) => o.kind === 'packet'); // a's new epoch, then k
  t.ok(out.length > 0, 'a pushed');
  for (const o of out) b.receivePacket(now, A, o.bytes);
  for (const o of out) b.receivePacket(now, X, o.bytes); // the same bytes from a stranger
  t.equal(b.store.get('k'), undefined, 'nothing taken from senders that are no members');
  now += 500;
  b.setMembers(now, [{ name: 'a', ...A }]);
  t.same(b.store.get('k')?.value, 1, "a's push was taken once a became a member");
  t.equal(b.stats().heldReplayed, out.length);
  now += 2_000;
  b.tick(now);
  t.equal(b.stats().rejects.not_member, out.length, "the stranger's datagrams were dropped and counted");
  t.equal(
    b.receiveStream(now, { addr: X.addr, port: 40000 }, out[0]!.bytes),
    undefined,
    "a stream from a stranger's address gets no answer",
  );
  t.equal(b.stats().rejects.not_member, out.length + 1);
  a.store.close();
  b.store.close();
});

// MemberRegistry, and member tables that share one (the simulator's nodes): numbers and
// places are counted and given back, a table sees only what it holds, and a probe ring is
// shared only between tables whose live sets are the same.
import t from 'tap';
import { MemberRegistry, nameHash } from './member-registry.js';
import { MemberTable, type Member } from './members.js';
import { ProbeRing } from './probe-ring.js';
import { Xoshiro128 } from '../../base/rng.js';

function member(name: string, addr = '10.0.0.1', port = 7946, meta = new Uint8Array()): Member {
  return { name, addr, port, meta, incarnation: 0, state: 'alive', lastChange: 0 };
}

const tableOf = (self: string, registry: MemberRegistry, seed = 1) =>
  new MemberTable(member(self, `10.1.0.${self.length}`), new Xoshiro128(seed), registry);

t.test('numbers: one per name while held, given back when the last holder lets go, then reused', async (t) => {
  const r = new MemberRegistry();
  const a = r.acquire('a');
  t.equal(r.acquire('a'), a, 'the same name, the same number');
  const b = r.acquire('b');
  t.not(b, a);
  t.equal(r.nameOf(b), 'b');
  t.equal(r.hashOf(b), nameHash('b'));
  r.release(a);
  t.equal(r.lookup('a'), a, 'still held once');
  r.release(a);
  t.equal(r.lookup('a'), undefined, 'no holder left');
  const c = r.acquire('c');
  t.equal(c, a, 'the freed number is reused');
  t.equal(r.hashOf(c), nameHash('c'), 'with the new name hashed');
  for (let i = 0; i < 100; i++) r.acquire(`n${i}`);
  t.equal(r.nameOf(r.lookup('n99')!), 'n99', 'past the first columns');
  t.equal(r.hashOf(r.lookup('n99')!), nameHash('n99'));
});

t.test('lookup: the last name and the next number are found before the map, and only when they match', async (t) => {
  const r = new MemberRegistry();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => r.acquire(n));
  t.same(
    ['a', 'b', 'c', 'c', 'a', 'c', 'b'].map((n) => r.lookup(n)),
    [a, b, c, c, a, c, b],
    'in order, repeated, out of order',
  );
  r.release(b);
  t.equal(r.lookup('a'), a);
  t.equal(r.lookup('b'), undefined, 'the next number no longer holds it');
  t.equal(r.lookup('c'), c);
  r.release(c);
  t.equal(r.lookup('c'), undefined, 'the last name found, given back');
  t.equal(r.lookup('zz'), undefined, 'a name never held');
  t.equal(r.acquire('d'), c, 'a freed number for a new name');
  t.equal(r.lookup('a'), a);
  t.equal(r.lookup('d'), c);
  t.equal(r.lookup('c'), undefined);
});

t.test('places: shared when equal, indexed while held, dropped with the last holder', async (t) => {
  const r = new MemberRegistry();
  const id = r.acquire('a');
  const p = r.place(id, '10.0.0.1', 7946, new Uint8Array([1]));
  t.same([r.placeAt(p).addr, r.placeAt(p).port, r.placeAt(p).meta], ['10.0.0.1', 7946, new Uint8Array([1])]);
  t.same(r.placeAt(p).node, { name: 'a', addr: '10.0.0.1', port: 7946 }, 'its address as messages carry it');
  t.equal(r.place(id, '10.0.0.1', 7946, new Uint8Array([1])), p, 'equal metadata, the same place');
  t.not(r.place(id, '10.0.0.1', 7946, new Uint8Array([2])), p, 'other metadata, another place');
  t.not(r.place(id, '10.0.0.2', 7946, r.placeAt(p).meta), p, 'another address');
  t.not(r.place(id, '10.0.0.1', 7947, r.placeAt(p).meta), p, 'another port');
  t.equal(r.at('10.0.0.1', 7946)?.length, 2, 'both places at the endpoint are indexed');
  r.drop(p);
  t.equal(r.at('10.0.0.1', 7946)?.length, 2, 'the first place is held twice');
  r.drop(p);
  t.equal(r.at('10.0.0.1', 7946)?.length, 1, 'dropped with its last holder');
  const again = r.place(id, '10.0.0.1', 7946, new Uint8Array([1]));
  t.equal(again, p, 'its number is reused');
  t.equal(r.at('10.0.0.1', 7946)?.length, 2, 'and the place made anew is indexed');
  for (const q of [...r.at('10.0.0.1', 7946)!]) r.drop(q.no);
  r.drop(r.at('10.0.0.2', 7946)![0].no);
  r.drop(r.at('10.0.0.1', 7947)![0].no);
  t.equal(r.at('10.0.0.1', 7946), undefined, 'nothing left at the endpoint');
  t.equal(r.at('10.0.0.2', 7946), undefined);
  r.drop(p);
  t.equal(r.at('10.0.0.1', 7946), undefined, 'a place dropped twice changes nothing');
});

t.test('entries: one per place, incarnation and state, frozen', async (t) => {
  const r = new MemberRegistry();
  const place = r.placeAt(r.place(r.acquire('a'), '10.0.0.1', 7946, new Uint8Array()));
  const e = r.entry(place, 3, 'alive');
  t.same(e, {
    node: { name: 'a', addr: '10.0.0.1', port: 7946 },
    incarnation: 3,
    state: 'alive',
    meta: new Uint8Array(),
  });
  t.ok(Object.isFrozen(e), 'nobody may change a shared entry');
  t.equal(r.entry(place, 3, 'alive'), e, 'asked again, the same');
  t.not(r.entry(place, 4, 'alive'), e, 'another incarnation, another entry');
  t.equal(r.entry(place, 4, 'suspect').state, 'suspect', 'another state, another entry');
});

t.test('tables sharing a registry: each sees its own records only', async (t) => {
  const r = new MemberRegistry();
  const one = tableOf('one', r);
  const two = tableOf('two', r);
  const a1 = one.add(member('a', '10.0.0.9', 7000));
  t.equal(two.get('a'), undefined, 'another table does not hold it');
  t.equal(two.atEndpoint('10.0.0.9', 7000), undefined, 'nor find it by endpoint');
  const a2 = two.add(member('a', '10.0.0.9', 7000));
  two.setState(a2, 'dead');
  t.equal(a1.state, 'alive', 'states are per table');
  two.move(a2, '10.0.0.8', 7000);
  t.equal(one.atEndpoint('10.0.0.9', 7000)?.name, 'a', 'the first table still finds it where it holds it');
  t.equal(one.atEndpoint('10.0.0.8', 7000), undefined, 'and not where the other holds it');
  t.equal(two.atEndpoint('10.0.0.8', 7000)?.name, 'a');
  a2.suspicion = undefined;
  a2.toldAt = 5;
  t.equal(a1.toldAt, undefined, 'the rare fields are per table too');
  one.remove(a1);
  t.equal(one.get('a'), undefined);
  t.equal(two.get('a')?.toldAt, 5, 'the other table keeps its record');
  two.remove(a2);
  t.equal(r.lookup('a'), undefined, 'the name is given back once no table holds it');
  t.equal(r.at('10.0.0.8', 7000), undefined, 'and its places');
  t.equal(a2.toldAt, undefined, 'a removed record keeps nothing');
});

t.test('a record the table removed cannot be changed through it', async (t) => {
  const tb = tableOf('self', new MemberRegistry());
  const a = tb.add(member('a'));
  a.incarnation = 4;
  tb.remove(a);
  t.same([a.name, a.addr, a.port, a.state, a.incarnation], ['a', '10.0.0.1', 7946, 'alive', 4], 'it reads as it was');
  tb.setState(a, 'dead');
  t.equal(tb.get('a'), undefined, 'setState does not bring it back');
  t.equal(tb.liveOthers(), 0);
  t.equal(tb.dead(), 0, 'nor count it');
  const again = tb.add(member('a', '10.0.0.7'));
  tb.setState(a, 'dead');
  a.incarnation = 9;
  t.same([again.state, again.incarnation], ['alive', 0], 'nor touch the record of the same name added since');
  tb.remove(a);
  t.equal(tb.get('a')?.addr, '10.0.0.7', 'nor remove it');
  const b = tb.add(member('b', '10.0.0.2'));
  tb.remove(b);
  tb.move(b, '10.0.0.3', 1);
  t.equal(tb.atEndpoint('10.0.0.3', 1), undefined, 'move does not index it');
});

// FNV-1a("node-0") + FNV-1a("node-3") === FNV-1a("node-1") + FNV-1a("node-2") (mod 2^32).
const SAME_SUM = [
  ['node-0', 'node-3'],
  ['node-1', 'node-2'],
];

t.test('a ring is shared only between tables holding the same live set', async (t) => {
  const [x, y] = SAME_SUM;
  t.equal((nameHash(x[0]) + nameHash(x[1])) >>> 0, (nameHash(y[0]) + nameHash(y[1])) >>> 0, 'the pinned names collide');
  const r = new MemberRegistry();
  // Two tables in the same cycle, live sets of the same size and the same hash sum.
  const one = tableOf('s1', r);
  for (const n of ['s2', ...x]) one.add(member(n));
  const two = tableOf('s2', r);
  for (const n of ['s1', ...y]) two.add(member(n));
  const ringOne = new ProbeRing(one);
  const ringTwo = new ProbeRing(two);
  for (let round = 0; round < 3 * 4; round++) {
    ringOne.target(round);
    const target = ringTwo.target(round);
    t.ok(target && ['s1', ...y].includes(target.name), `round ${round}: s2 probes one it holds (${target?.name})`);
  }
  // The same set on a third table: each round of every cycle, s1 and s3 probe different members.
  const three = tableOf('s3', r);
  const four = tableOf('s4', r);
  for (const [tb, others] of [
    [three, ['s4', 'm1', 'm2']],
    [four, ['s3', 'm1', 'm2']],
  ] as const)
    for (const n of others) tb.add(member(n));
  const rings = [new ProbeRing(three), new ProbeRing(four)];
  for (let round = 0; round < 3 * 4; round++) {
    const [p, q] = rings.map((ring) => ring.target(round)?.name);
    t.not(p, q, `round ${round}: ${p} and ${q}`);
  }
});

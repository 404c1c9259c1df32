// MemberTable on its own: the incremental counts every gossip packet relies on, the endpoint
// index, the probe order and sampling (issue 18's mutation survivors; swim.ts's tests reach
// the table only through whole cores). The table hands out its own records, which stand for
// a name: they are compared by name here.
import t from 'tap';
import { isLive, MemberTable, type Member } from './members.js';
import { Xoshiro128 } from '../../base/rng.js';

function member(name: string, state: Member['state'] = 'alive', addr = `10.0.0.${name.length}`, port = 7946): Member {
  return { name, addr, port, meta: new Uint8Array(), incarnation: 0, state, lastChange: 0 };
}

function table(seed = 1): MemberTable {
  return new MemberTable(member('self'), new Xoshiro128(seed));
}

const nameOf = (m: Member | undefined) => m?.name;

t.test('isLive: alive and suspect only', async (t) => {
  t.ok(isLive(member('a', 'alive')));
  t.ok(isLive(member('a', 'suspect')));
  t.notOk(isLive(member('a', 'dead')));
  t.notOk(isLive(member('a', 'left')));
});

t.test('counts follow add, setState and remove; self is never counted as another', async (t) => {
  const tb = table();
  t.equal(tb.size, 1, 'self');
  t.equal(tb.liveCount(), 1, 'self is live');
  t.equal(tb.liveOthers(), 0);
  const [a, b, c, d] = [member('a'), member('b', 'suspect'), member('c', 'dead'), member('d', 'left')].map((m) =>
    tb.add(m),
  );
  t.equal(tb.size, 5);
  t.equal(tb.liveOthers(), 2, 'alive and suspect');
  t.equal(tb.dead(), 1, 'dead, not left');
  t.equal(tb.liveCount(), 3);
  t.equal(tb.add(member('a', 'dead')).state, 'alive', 'a second add under a known name keeps the record');
  t.equal(tb.get('a')?.state, 'alive');
  t.equal(tb.liveOthers(), 2);
  tb.setState(a, 'dead');
  t.equal(tb.liveOthers(), 1);
  t.equal(tb.dead(), 2);
  tb.setState(c, 'left');
  t.equal(tb.dead(), 1, 'dead to left');
  t.equal(tb.liveOthers(), 1);
  tb.setState(d, 'suspect');
  t.equal(tb.liveOthers(), 2, 'left to suspect');
  tb.setState(tb.self, 'left');
  t.equal(tb.liveOthers(), 2, 'self is not an other');
  t.equal(tb.dead(), 1);
  t.equal(tb.liveCount(), 2, 'self no longer live');
  tb.remove(b);
  t.equal(tb.liveOthers(), 1);
  t.equal(tb.get('b'), undefined);
  tb.remove(a);
  t.equal(tb.dead(), 0);
  t.equal(tb.size, 3);
  tb.remove(tb.self);
  t.equal(tb.get('self'), tb.self, 'self cannot be removed');
  tb.remove(member('d'));
  t.equal(nameOf(tb.get('d')), 'd', 'only a record the table holds is removed, not another of the same name');
  t.equal(tb.liveOthers(), 1);
});

t.test('version changes exactly when the live set may have', async (t) => {
  const tb = table();
  let v = tb.version;
  const step = (what: string, changes: boolean): void => {
    if (changes) t.not(tb.version, v, what);
    else t.equal(tb.version, v, what);
    v = tb.version;
  };
  const a = tb.add(member('a'));
  step('live added', true);
  tb.add(member('z', 'dead'));
  step('dead added', false);
  tb.setState(a, 'suspect');
  step('alive to suspect', false);
  tb.setState(a, 'suspect');
  step('no change', false);
  tb.setState(a, 'dead');
  step('suspect to dead', true);
  tb.setState(a, 'left');
  step('dead to left', false);
  tb.setState(a, 'alive');
  step('left to alive', true);
  tb.remove(a);
  step('live removed', true);
  tb.remove(tb.get('z') as Member);
  step('dead removed', false);
  tb.setState(tb.self, 'left');
  step('self leaves', true);
});

t.test('the endpoint index follows add, move and remove, and never holds self', async (t) => {
  const tb = table();
  t.equal(tb.atEndpoint(tb.self.addr, tb.self.port), undefined, 'self is not indexed');
  const a = tb.add(member('a', 'alive', '10.1.1.1', 7000));
  const b = tb.add(member('b', 'alive', '10.1.1.1', 7001));
  t.equal(nameOf(tb.atEndpoint('10.1.1.1', 7000)), 'a');
  t.equal(nameOf(tb.atEndpoint('10.1.1.1', 7001)), 'b', 'same address, other port');
  t.equal(tb.atEndpoint('10.1.1.2', 7000), undefined);
  tb.move(a, '10.1.1.2', 7000);
  t.equal(tb.atEndpoint('10.1.1.1', 7000), undefined, 'old endpoint forgotten');
  t.equal(nameOf(tb.atEndpoint('10.1.1.2', 7000)), 'a');
  t.equal(a.addr, '10.1.1.2');
  tb.move(a, '10.1.1.2', 7002);
  t.equal(a.port, 7002);
  t.equal(nameOf(tb.atEndpoint('10.1.1.2', 7002)), 'a');
  t.equal(tb.atEndpoint('10.1.1.2', 7000), undefined);
  tb.move(a, '10.1.1.2', 7002);
  t.equal(nameOf(tb.atEndpoint('10.1.1.2', 7002)), 'a', 'a move to where it is keeps it');
  const meta = new Uint8Array([1, 2]);
  tb.move(a, '10.1.1.2', 7002, meta);
  t.same(a.meta, meta, 'a move can change the metadata alone');
  t.equal(nameOf(tb.atEndpoint('10.1.1.2', 7002)), 'a', 'and the endpoint stays indexed');
  tb.move(tb.self, '10.9.9.9', 1);
  t.equal(tb.self.addr, '10.9.9.9', 'self moves');
  t.equal(tb.atEndpoint('10.9.9.9', 1), undefined, 'but is not indexed');
  const stray = member('stray', 'alive', '10.3.3.3', 1);
  tb.move(stray, '10.3.3.4', 1);
  t.equal(tb.atEndpoint('10.3.3.4', 1), undefined, 'a record not in the table is not indexed');
  // A second member taking a's endpoint, then a leaving it: the newcomer keeps it.
  tb.add(member('c', 'alive', '10.1.1.2', 7002));
  tb.move(a, '10.1.1.5', 7002);
  t.equal(nameOf(tb.atEndpoint('10.1.1.2', 7002)), 'c');
  t.equal(nameOf(tb.atEndpoint('10.1.1.5', 7002)), 'a');
  tb.remove(b);
  t.equal(tb.atEndpoint('10.1.1.1', 7001), undefined);
});

t.test('probe order: every live member once per round, none dead, wrap reshuffles', async (t) => {
  const tb = table(7);
  const names = Array.from({ length: 9 }, (_, i) => `n${i}`);
  for (const n of names) tb.add(member(n, 'alive', `10.0.1.${names.indexOf(n)}`));
  tb.add(member('gone', 'dead', '10.0.2.1'));
  const rounds: string[][] = [];
  for (let r = 0; r < 4; r++) {
    const round: string[] = [];
    for (let i = 0; i < names.length; i++) round.push((tb.nextProbeTarget() as Member).name);
    rounds.push(round);
  }
  for (const round of rounds) t.same([...round].sort(), names, 'each live member once');
  t.ok(
    rounds.some((r) => r.join() !== rounds[0].join()),
    'the order is reshuffled on wrap',
  );
  const empty = table();
  t.equal(empty.nextProbeTarget(), undefined, 'nobody to probe');
  const allDead = table();
  allDead.add(member('x', 'dead'));
  allDead.add(member('y', 'left', '10.0.3.1'));
  t.equal(allDead.nextProbeTarget(), undefined, 'nobody live to probe');
});

t.test('removing a member mid-round neither skips nor repeats the others', async (t) => {
  const names = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff'];
  // Twin tables from one seed walk the same orders: one shows the second round's order,
  // the other has members removed during that round.
  const twin = (): MemberTable => {
    const tb = table(3);
    for (const n of names) tb.add(member(n));
    for (let i = 0; i < names.length; i++) tb.nextProbeTarget();
    return tb;
  };
  const seen = twin();
  const round = names.map(() => (seen.nextProbeTarget() as Member).name);
  const tb = twin();
  t.equal((tb.nextProbeTarget() as Member).name, round[0]);
  t.equal((tb.nextProbeTarget() as Member).name, round[1]);
  tb.remove(tb.get(round[0]) as Member); // already probed this round
  tb.remove(tb.get(round[2]) as Member); // the next one to probe
  t.same(
    [round[3], round[4], round[5]].map(() => (tb.nextProbeTarget() as Member).name),
    [round[3], round[4], round[5]],
    'the rest of the round, in order',
  );
});

t.test('newcomers go to random places in the probe order, not always the end', async (t) => {
  let notLast = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const tb = table(seed);
    for (const n of ['a', 'bb', 'ccc', 'dddd']) tb.add(member(n));
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push((tb.nextProbeTarget() as Member).name);
    if (order[3] !== 'dddd') notLast++;
  }
  t.ok(notLast >= 10, `the last added is probed last in ${20 - notLast} of 20 tables`);
});

t.test('sample: up to k distinct members that accept admits, never self', async (t) => {
  const tb = table(5);
  const names = Array.from({ length: 30 }, (_, i) => `m${i}`);
  names.forEach((n, i) => tb.add(member(n, i % 3 === 0 ? 'dead' : 'alive', `10.0.4.${i}`)));
  t.same(
    tb.sample(0, () => true),
    [],
  );
  t.same(
    tb.sample(-1, () => true),
    [],
  );
  t.same(
    table().sample(3, () => true),
    [],
    'no members',
  );
  const three = tb.sample(3, isLive);
  t.equal(three.length, 3);
  t.equal(new Set(three.map(nameOf)).size, 3, 'distinct');
  t.ok(three.every(isLive));
  const all = tb.sample(100, isLive);
  t.equal(all.length, 20, 'all 20 live, when k exceeds them');
  t.equal(new Set(all.map(nameOf)).size, 20);
  t.notOk(all.some((m) => m.name === 'self'));
  // Only one qualifies among many: rejection sampling gives up, the scan finds it.
  const one = tb.sample(2, (m) => m.name === 'm29');
  t.same(
    one.map((m) => m.name),
    ['m29'],
  );
  t.same(
    tb.sample(2, () => false),
    [],
  );
});

t.test('sample draws different members from call to call', async (t) => {
  const tb = table(11);
  for (let i = 0; i < 50; i++) tb.add(member(`m${i}`, 'alive', `10.0.5.${i}`));
  const firsts = new Set<string>();
  for (let i = 0; i < 20; i++) firsts.add(tb.sample(1, () => true)[0].name);
  t.ok(firsts.size >= 10, `${firsts.size} distinct first picks in 20 draws`);
  // The scan fallback is random too: few qualify, so the scan picks among them.
  const picks = new Set<string>();
  const few = new Set(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  for (let i = 0; i < 20; i++) for (const m of tb.sample(2, (m) => few.has(m.name))) picks.add(m.name);
  t.equal(picks.size, 6, 'every qualifying member is picked sometimes');
});

t.test('gone counts dead and left others through add, setState and remove', async (t) => {
  const tb = table();
  t.equal(tb.gone(), 0, 'nobody yet');
  const [a, b, c] = [member('a', 'dead'), member('b', 'left'), member('c')].map((m) => tb.add(m));
  t.equal(tb.gone(), 2, 'a dead and a left member added');
  tb.setState(c, 'left');
  t.equal(tb.gone(), 3, 'alive to left');
  tb.setState(b, 'dead');
  t.equal(tb.gone(), 3, 'left to dead stays gone');
  tb.setState(a, 'suspect');
  t.equal(tb.gone(), 2, 'dead to suspect is no longer gone');
  tb.setState(tb.self, 'left');
  t.equal(tb.gone(), 2, 'self leaving is not counted');
  tb.remove(b);
  tb.remove(c);
  t.equal(tb.gone(), 0, 'removed');
  tb.remove(c);
  t.equal(tb.gone(), 0, 'a second remove changes nothing');
});

t.test('inStates: the others in those states, in the order added, never self', async (t) => {
  const tb = table();
  for (const [n, st] of [
    ['a', 'dead'],
    ['b', 'alive'],
    ['c', 'left'],
    ['d', 'dead'],
  ] as const)
    tb.add(member(n, st, `10.0.6.${n.charCodeAt(0)}`));
  tb.setState(tb.self, 'dead');
  t.same(tb.inStates('dead').map(nameOf), ['a', 'd']);
  t.same(tb.inStates('dead', 'left').map(nameOf), ['a', 'c', 'd']);
  t.same(tb.inStates('suspect'), []);
  tb.remove(tb.get('a')!);
  t.same(tb.inStates('dead').map(nameOf), ['d'], 'a removed member is gone');
});

import t from 'tap';
import { allocate, inCidr, parseCidr } from './allocator.js';

const shuffle = <T>(a: T[], seed: number): T[] => {
  const out = [...a];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};

t.test('parseCidr: network, usable slots, and errors a person can act on', async (t) => {
  t.match(parseCidr('10.0.0.0/8'), { prefix: 8, first: 1, size: 2 ** 24 - 2, text: '10.0.0.0/8' });
  t.match(parseCidr('198.18.0.0/15'), { prefix: 15, size: 2 ** 17 - 2 });
  t.match(parseCidr('10.1.2.3/28'), { text: '10.1.2.0/28', size: 14 });
  t.match(parseCidr('10.1.2.3/32'), { size: 1, first: 0 });
  t.throws(() => parseCidr('fd00::/64'), /not an IPv4 CIDR like 198.18.0.0\/15/);
  t.throws(() => parseCidr('10.0.0.0/33'));
  t.throws(() => parseCidr('10.0.0.0'));
});

t.test('addresses are a function of the set of names: any order, any node', async (t) => {
  const cidr = parseCidr('198.18.0.0/15');
  const names = Array.from({ length: 500 }, (_, i) => `svc-${i}`);
  const a = allocate(names, cidr).addrs;
  for (let seed = 1; seed < 6; seed++) t.same(allocate(shuffle(names, seed), cidr).addrs, a, `shuffle ${seed}`);
  t.equal(new Set(a.values()).size, names.length, 'no two names share an address');
  for (const addr of a.values()) if (!t.ok(inCidr(cidr, addr), `${addr} in the CIDR`)) t.bailout();
  t.not(a.get('svc-0'), '198.18.0.0', 'never the network address');
});

t.test('collisions in a tiny CIDR: resolved the same regardless of insertion order', async (t) => {
  const cidr = parseCidr('10.9.0.0/28'); // 14 slots
  const names = Array.from({ length: 14 }, (_, i) => `n${i}`);
  const a = allocate(names, cidr);
  t.same(a.unallocated, []);
  t.equal(new Set(a.addrs.values()).size, 14, 'all 14 slots used, each once');
  for (let seed = 1; seed < 20; seed++) t.same(allocate(shuffle(names, seed), cidr).addrs, a.addrs);
  const over = allocate([...names, 'zz-last', 'aa-first'], cidr);
  t.same(over.unallocated, ['n9', 'zz-last'], 'when full, the names sorting last get none');
  t.equal(over.addrs.size, 14);
});

t.test('stability: a name keeps its address unless an earlier-sorting name takes a slot on its path', async (t) => {
  const cidr = parseCidr('198.18.0.0/15');
  const base = Array.from({ length: 200 }, (_, i) => `web-${i}`);
  const before = allocate(base, cidr).addrs;
  const after = allocate([...base, 'zzz-new', 'aaa-new'], cidr).addrs;
  for (const n of base) if (!t.equal(after.get(n), before.get(n), n)) t.bailout();
  const removed = allocate(base.slice(1), cidr).addrs;
  for (const n of base.slice(1)) t.equal(removed.get(n), before.get(n));
});

t.test('the smallest colliding name keeps the slot; the others move (found by search in a /30)', async (t) => {
  const cidr = parseCidr('10.0.0.0/30'); // 2 slots
  // Two names whose first probe lands on the same slot.
  const alone = (n: string) => allocate([n], cidr).addrs.get(n);
  let pair: [string, string] | undefined;
  for (let i = 0; !pair && i < 50; i++)
    for (let j = i + 1; !pair && j < 50; j++)
      if (alone(`a${i}`) === alone(`a${j}`)) pair = [`a${i}`, `a${j}`].sort() as [string, string];
  t.ok(pair, 'a colliding pair exists');
  const [lo, hi] = pair!;
  const both = allocate([hi, lo], cidr).addrs;
  t.equal(both.get(lo), alone(lo), 'the smaller keeps its slot');
  t.not(both.get(hi), both.get(lo), 'the larger moved');
});

t.test('literal IPs are their own address and reserve their slot', async (t) => {
  const cidr = parseCidr('10.9.0.0/30'); // slots 10.9.0.1, 10.9.0.2
  const a = allocate(['10.9.0.1', 'x', '192.168.1.1', 'fd00::5'], cidr).addrs;
  t.equal(a.get('10.9.0.1'), '10.9.0.1');
  t.equal(a.get('x'), '10.9.0.2', 'x cannot take the literal IP slot');
  t.equal(a.get('192.168.1.1'), '192.168.1.1');
  t.equal(a.get('fd00::5'), 'fd00::5');
});

t.test('an existing VIP keeps its address when a name sorting before it is added (issue 12, item 10)', async (t) => {
  // In a full /29, `eta` (sorting before `zeta`, sharing its first probe) used to take zeta's
  // address. The earliest claim wins now: eta claims later, so it is the one left out.
  const cidr = parseCidr('10.9.0.0/29');
  const base = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
  const claims = new Map(base.map((n, i) => [n, 1000 + i]));
  const before = allocate(base, cidr, claims);
  const after = allocate([...base, 'eta'], cidr, new Map([...claims, ['eta', 2000]]));
  for (const n of base) t.equal(after.addrs.get(n), before.addrs.get(n), `${n} keeps ${before.addrs.get(n)}`);
  t.same(after.unallocated, ['eta'], 'the CIDR is full: the latest claim gets no address');
  // Not full: eta gets a free slot, zeta stays.
  const three = new Map([
    ['alpha', 1],
    ['beta', 2],
    ['zeta', 3],
  ]);
  const b3 = allocate(three.keys(), cidr, three);
  const a3 = allocate([...three.keys(), 'eta'], cidr, new Map([...three, ['eta', 4]]));
  t.equal(a3.addrs.get('zeta'), b3.addrs.get('zeta'), 'zeta keeps its address when eta arrives');
  t.not(a3.addrs.get('eta'), a3.addrs.get('zeta'));
});

t.test(
  'claims order the allocation: equal claims fall back to the names, literals in the CIDR claim like names',
  async (t) => {
    const cidr = parseCidr('10.9.0.0/30'); // 2 slots
    const alone = (n: string) => allocate([n], cidr).addrs.get(n)!;
    let pair: [string, string] | undefined;
    for (let i = 0; !pair && i < 50; i++)
      for (let j = i + 1; !pair && j < 50; j++)
        if (alone(`a${i}`) === alone(`a${j}`)) pair = [`a${i}`, `a${j}`].sort() as [string, string];
    const [lo, hi] = pair!;
    t.equal(
      allocate(
        [lo, hi],
        cidr,
        new Map([
          [lo, 5],
          [hi, 5],
        ]),
      ).addrs.get(lo),
      alone(lo),
      'a tie: the smaller name',
    );
    t.equal(
      allocate(
        [lo, hi],
        cidr,
        new Map([
          [lo, 6],
          [hi, 5],
        ]),
      ).addrs.get(hi),
      alone(hi),
      'the earlier claim keeps the slot, whatever its name',
    );
    // A literal IP declared later on the address a name holds does not take it.
    const held = alone(lo);
    const lit = allocate(
      [lo, held],
      cidr,
      new Map([
        [lo, 1],
        [held, 2],
      ]),
    );
    t.equal(lit.addrs.get(lo), held, 'the name keeps its address');
    t.notOk(lit.addrs.has(held), 'the later literal gets nothing');
    t.same(lit.conflicts.get(held), lo, 'and is reported as a conflict with the holder');
  },
);

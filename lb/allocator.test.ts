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
  t.match(parseCidr('11.0.0.0/8'), { prefix: 8, first: 1, size: 2 ** 24 - 2, text: '11.0.0.0/8' });
  t.match(parseCidr('10.1.2.3/28'), { text: '10.1.2.0/28', size: 14 });
  t.match(parseCidr('10.1.2.3/32'), { size: 1, first: 0 });
  t.throws(() => parseCidr('fd00::/64'), /not an IPv4 CIDR like 11.0.0.0\/8/);
  t.throws(() => parseCidr('10.0.0.0/33'));
  t.throws(() => parseCidr('10.0.0.0'));
});

t.test('addresses are a function of the set of names: any order, any node', async (t) => {
  const cidr = parseCidr('11.0.0.0/8');
  const names = Array.from({ length: 500 }, (_, i) => `svc-${i}`);
  const a = allocate(names, cidr).addrs;
  for (let seed = 1; seed < 6; seed++) t.same(allocate(shuffle(names, seed), cidr).addrs, a, `shuffle ${seed}`);
  t.equal(new Set(a.values()).size, names.length, 'no two names share an address');
  for (const addr of a.values()) t.ok(inCidr(cidr, addr), `${addr} in the CIDR`) || t.bailout();
  t.not(a.get('svc-0'), '11.0.0.0', 'never the network address');
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
  const cidr = parseCidr('11.0.0.0/8');
  const base = Array.from({ length: 200 }, (_, i) => `web-${i}`);
  const before = allocate(base, cidr).addrs;
  const after = allocate([...base, 'zzz-new', 'aaa-new'], cidr).addrs;
  for (const n of base) t.equal(after.get(n), before.get(n), n) || t.bailout();
  const removed = allocate(base.slice(1), cidr).addrs;
  for (const n of base.slice(1)) t.equal(removed.get(n), before.get(n));
});

t.test('the smallest colliding name keeps the slot; the others move (found by search in a /30)', async (t) => {
  const cidr = parseCidr('10.0.0.0/30'); // 2 slots
  // Two names whose first probe lands on the same slot.
  const alone = (n: string) => allocate([n], cidr).addrs.get(n);
  let pair: [string, string] | undefined;
  for (let i = 0; !pair && i < 50; i++) for (let j = i + 1; !pair && j < 50; j++) if (alone(`a${i}`) === alone(`a${j}`)) pair = [`a${i}`, `a${j}`].sort() as [string, string];
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

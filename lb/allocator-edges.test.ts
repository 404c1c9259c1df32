// The VIP allocator at its edges: CIDR boundaries, reserved addresses, a nearly full range
// (where hashing gives up and the scan finds the last free slot) and the order that decides
// who loses in a collision. Each is a way two nodes could hand out different or unusable
// addresses.
import t from 'tap';
import { allocate, inCidr, intToIpv4, ipv4ToInt, parseCidr } from './allocator.js';

t.test('parseCidr: surrounding space is fine, anything else around the CIDR is not', async (t) => {
  t.match(parseCidr(' 10.0.0.0/8 \n'), { text: '10.0.0.0/8' });
  for (const bad of ['x10.0.0.0/8', '10.0.0.0/8x', '10.0.0/8', '10.0.0.0/', '256.0.0.0/8'])
    t.throws(() => parseCidr(bad), /not an IPv4 CIDR/, bad);
  t.match(parseCidr('10.200.100.10/32'), { text: '10.200.100.10/32', size: 1, first: 0 });
  t.match(parseCidr('10.0.0.0/0'), { base: 0, text: '0.0.0.0/0', first: 1, size: 2 ** 32 - 2 });
  t.match(
    parseCidr('10.0.0.7/31'),
    { text: '10.0.0.6/31', first: 0, size: 2 },
    'a /31 has no network or broadcast address',
  );
  t.match(parseCidr('10.0.0.7/30'), { text: '10.0.0.4/30', first: 1, size: 2 });
});

t.test('inCidr: exactly the addresses from the network to the broadcast address', async (t) => {
  const c = parseCidr('10.1.2.0/24');
  t.equal(inCidr(c, '10.1.2.0'), true);
  t.equal(inCidr(c, '10.1.2.255'), true);
  t.equal(inCidr(c, '10.1.1.255'), false);
  t.equal(inCidr(c, '10.1.3.0'), false);
  t.equal(inCidr(c, 'fd00::1'), false);
  t.equal(inCidr(c, 'web'), false);
  t.equal(intToIpv4(ipv4ToInt('255.1.2.3')), '255.1.2.3');
});

t.test('reserved addresses inside the CIDR are never handed out; those outside cost nothing', async (t) => {
  const c = parseCidr('10.0.0.0/29'); // 6 usable: .1 to .6
  const names = Array.from({ length: 6 }, (_, i) => `svc-${i}`);
  const a = allocate(names, c, undefined, ['10.0.0.2', '10.0.0.5', '10.9.9.9']);
  t.equal(a.addrs.size, 4);
  t.equal(a.unallocated.length, 2);
  t.notOk([...a.addrs.values()].some((x) => x === '10.0.0.2' || x === '10.0.0.5'));
  const b = allocate(names, c, undefined, ['10.9.9.9']);
  t.equal(b.addrs.size, 6, 'an address outside the CIDR reserves nothing');
  t.same(new Set(b.addrs.values()), new Set(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']));
});

t.test('a nearly full range: every usable address is found, none twice, none outside', async (t) => {
  const c = parseCidr('10.0.0.0/24');
  const names = Array.from({ length: 260 }, (_, i) => `svc-${i}`);
  const a = allocate(names, c);
  t.equal(a.addrs.size, 254);
  t.equal(a.unallocated.length, 6);
  const addrs = [...a.addrs.values()];
  t.equal(new Set(addrs).size, 254);
  t.notOk(addrs.includes('10.0.0.0') || addrs.includes('10.0.0.255'), 'neither the network nor the broadcast address');
  t.ok(addrs.every((x) => inCidr(c, x)));
});

t.test('collision order is by code point, the same in any input order', async (t) => {
  const c = parseCidr('10.0.0.0/30'); // two slots
  // By code point 'B' < 'a' < 'c' (a locale order would put 'a' first).
  for (const names of [
    ['a', 'B', 'c'],
    ['c', 'a', 'B'],
    ['B', 'c', 'a'],
  ])
    t.same(allocate(names, c).unallocated, ['c'], names.join(','));
});

t.test('with no claims, a literal keeps its slot against a name that hashes onto it', async (t) => {
  const c = parseCidr('10.0.0.0/30');
  let name = '';
  for (let i = 0; !name; i++) if (allocate([`n${i}`], c).addrs.get(`n${i}`) === '10.0.0.1') name = `n${i}`;
  for (const order of [
    [name, '10.0.0.1'],
    ['10.0.0.1', name],
  ]) {
    const a = allocate(order, c);
    t.equal(a.addrs.get('10.0.0.1'), '10.0.0.1');
    t.equal(a.addrs.get(name), '10.0.0.2');
    t.equal(a.conflicts.size, 0);
  }
});

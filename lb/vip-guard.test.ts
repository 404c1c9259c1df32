import t from 'tap';
import { VipGuard, parseAnyCidr } from './vip-guard.js';

const guard = new VipGuard({ vipCidr: '198.18.0.0/15', allow: ['10.99.0.0/24', 'fd00:99::/64'] });
const reason = (addr: string, ctx = {}) => guard.check(addr, ctx)?.reason;

t.test('special-purpose addresses are refused, even inside the allow-list', async (t) => {
  t.equal(reason('127.0.0.1'), 'loopback');
  t.equal(reason('127.200.0.9'), 'loopback');
  t.equal(reason('169.254.169.254'), 'link_local', 'the cloud metadata address');
  t.equal(reason('0.0.0.0'), 'unspecified');
  t.equal(reason('224.0.0.251'), 'multicast');
  t.equal(reason('239.1.1.1'), 'multicast');
  t.equal(reason('255.255.255.255'), 'broadcast');
  t.equal(reason('240.0.0.1'), 'reserved');
  t.equal(reason('::1'), 'loopback');
  t.equal(reason('::'), 'unspecified');
  t.equal(reason('fe80::1'), 'link_local');
  t.equal(reason('ff02::1'), 'multicast');
  t.equal(reason('::ffff:127.0.0.1'), 'reserved', 'IPv4-mapped: no way around the IPv4 checks');
  const wide = new VipGuard({ vipCidr: '198.18.0.0/15', allow: ['0.0.0.0/0', '::/0'] });
  t.equal(wide.check('127.0.0.1')?.reason, 'loopback', 'an allow-list of everything still refuses loopback');
  t.equal(wide.check('169.254.169.254')?.reason, 'link_local');
});

t.test('literal VIPs only inside vipCidr or vipAllow', async (t) => {
  t.equal(reason('198.18.3.4'), undefined);
  t.equal(reason('198.19.255.254'), undefined);
  t.equal(reason('10.99.0.7'), undefined, 'in the allow-list');
  t.equal(reason('fd00:99::5'), undefined, 'IPv6 in the allow-list');
  t.equal(reason('11.0.0.7'), 'outside_range');
  t.equal(reason('8.8.8.8'), 'outside_range');
  t.equal(reason('fd00:1::5'), 'outside_range');
  t.equal(reason('198.18.0.0'), 'network_address');
  t.equal(reason('198.19.255.255'), 'network_address');
  t.match(
    guard.check('8.8.8.8')!.message,
    /outside lb\.vipCidr \(198\.18\.0\.0\/15\) or lb\.vipAllow \(10\.99\.0\.0\/24, fd00:99::\/64\)/,
  );
  t.equal(reason('web'), undefined, 'a name is not checked here');
});

t.test("a member's address or one of this node's is refused, even inside the ranges", async (t) => {
  t.equal(reason('10.99.0.7', { members: new Set(['10.99.0.7']) }), 'member_address');
  t.equal(reason('198.18.0.9', { local: new Set(['198.18.0.9']) }), 'local_address');
  t.match(guard.check('10.99.0.7', { members: new Set(['10.99.0.7']) })!.message, /cut that node off/);
});

t.test('the allow-list is validated', async (t) => {
  t.throws(
    () => new VipGuard({ vipCidr: '198.18.0.0/15', allow: ['10.0.0.0'] }),
    /lb\.vipAllow entry "10\.0\.0\.0" is not a CIDR/,
  );
  t.throws(() => new VipGuard({ vipCidr: '198.18.0.0/15', allow: ['10.0.0.0/33'] }));
  t.same(parseAnyCidr('fd00::/8'), { addr: 'fd00::', prefix: 8, family: 'ipv6' });
  t.equal(parseAnyCidr('nonsense/8'), undefined);
});

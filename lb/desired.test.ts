import t from 'tap';
import { endpoint, newStore } from '../test/helpers/dns.js';
import { parseCidr } from './allocator.js';
import { computeDesired } from './desired.js';
import { RecordIndex } from './records.js';

const cidr = parseCidr('198.18.0.0/15');
const bind = (vip: string, port: number, targetPort: number, proto: 'tcp' | 'udp' = 'tcp') => ({
  vip,
  port,
  proto,
  targetPort,
});

t.test(
  'VIPs from endpoint bindings and declared records; backends are serving endpoints of the right family',
  async (t) => {
    const s = newStore('n1');
    const idx = new RecordIndex();
    t.teardown(idx.attach(s, () => {}));
    s.put(
      'svc/web/n1/a',
      endpoint('web', ['10.1.0.1', 'fd00::1'], { vips: [bind('web', 80, 8080), bind('web', 443, 8443)] }),
    );
    s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2'], { vips: [bind('web', 80, 8081)] }));
    s.put('svc/web/n1/c', endpoint('web', ['10.1.0.3'], { vips: [bind('web', 80, 8080)], health: 'starting' }));
    s.put('svc/dns/n1/a', endpoint('dns', ['10.1.0.9'], { vips: [bind('10.200.0.53', 53, 5353, 'udp')] }));
    s.put('vip/empty:7000/tcp', { vip: 'empty', port: 7000, proto: 'tcp' }, { shared: true });
    const d = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr);
    t.same(
      d.vips.map((v) => [v.key, v.backends.map((b) => `${b.addr}:${b.port}`)]),
      [
        ['10.200.0.53:53/udp', ['10.1.0.9:5353']],
        ['empty:7000/tcp', []],
        ['web:443/tcp', ['10.1.0.1:8443']],
        ['web:80/tcp', ['10.1.0.1:8080', '10.1.0.2:8081']],
      ],
    );
    t.equal(d.vips[3].addr, d.vips[2].addr, 'one address per name, whatever the port');
    t.equal(d.vips[0].addr, '10.200.0.53', 'a literal IP VIP is its own address');
    t.ok(d.addrs.get('empty'), 'a declared VIP without backends still has an address');
    s.put('svc/web/n1/c', endpoint('web', ['10.1.0.3'], { vips: [bind('web', 80, 8080)], health: 'healthy' }));
    const d2 = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr);
    t.same(
      d2.vips[3].backends.map((b) => b.addr),
      ['10.1.0.1', '10.1.0.2', '10.1.0.3'],
      'healthy again: back',
    );
    s.put('svc/web/n1/d', endpoint('web', ['10.1.0.3'], { vips: [bind('web', 80, 8080)] }));
    t.equal(
      computeDesired(idx.endpoints.values(), idx.declared.values(), cidr).vips[3].backends.length,
      3,
      'the same address and port twice is one backend',
    );
  },
);

t.test('an unhealthy-only VIP keeps its address; a dead owner takes its VIPs away', async (t) => {
  const reader = newStore('n1');
  const other = newStore('n2');
  const { pipe } = await import('../test/helpers/dns.js');
  pipe(other, reader);
  reader.setAlive(['n2']);
  const idx = new RecordIndex();
  let changes = 0;
  t.teardown(idx.attach(reader, () => changes++));
  other.put('svc/api/n2/x', endpoint('api', ['10.2.0.1'], { vips: [bind('api', 80, 80)], health: 'unhealthy' }));
  let d = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr);
  t.match(d.vips, [{ key: 'api:80/tcp', backends: [] }]);
  t.ok(d.vips[0].addr);
  reader.setAlive([]);
  d = computeDesired(idx.endpoints.values(), idx.declared.values(), cidr);
  t.same(d.vips, [], 'owner dead: VIP gone');
  t.ok(changes >= 2);
});

t.test('bad records are skipped and counted, and drop what the key held', async (t) => {
  const s = newStore('n1');
  const idx = new RecordIndex();
  const seen: string[] = [];
  idx.onSkip = (k, r) => seen.push(`${k} ${r}`);
  t.teardown(idx.attach(s, () => {}));
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1'], { vips: [bind('web', 80, 80)] }));
  s.put('svc/web/n1/a', { service: 'web', addrs: ['not-an-ip'], ports: {}, health: 'none', vips: [], source: 'api' });
  s.put('svc/web/n1/b', endpoint('other', ['10.1.0.1']));
  s.put('vip/x:80/tcp', { vip: 'y', port: 80, proto: 'tcp' }, { shared: true });
  s.put('vip/z:80/tcp', { vip: 'z', port: 99999, proto: 'tcp' }, { shared: true });
  t.same(idx.skipped, { endpoint_record: 1, endpoint_key: 1, vip_record: 1, vip_key: 1 });
  t.equal(idx.endpoints.size, 0, 'the bad value replaced the good one');
  t.equal(seen.length, 4);
  t.same(computeDesired(idx.endpoints.values(), idx.declared.values(), cidr).vips, []);
});

t.test(
  "literal VIPs on special, foreign or members' addresses are left out, with a reason, on every node alike (issue 12, item 8)",
  async (t) => {
    const { VipGuard } = await import('./vip-guard.js');
    const guard = new VipGuard({ vipCidr: '198.18.0.0/15', allow: ['10.99.0.0/24'] });
    const c = parseCidr('198.18.0.0/15');
    const s = newStore('n1');
    const idx = new RecordIndex();
    t.teardown(idx.attach(s, () => {}));
    s.put('node/n1', { addr: '10.99.0.10' });
    s.put(
      'svc/web/n1/a',
      endpoint('web', ['10.1.0.1'], {
        vips: [
          bind('127.0.0.1', 8947, 80),
          bind('169.254.169.254', 80, 80),
          bind('10.99.0.10', 7946, 80),
          bind('8.8.8.8', 53, 53, 'udp'),
          bind('10.99.0.5', 80, 80),
          bind('web', 80, 80),
        ],
      }),
    );
    s.put('vip/0.0.0.0:22/tcp', { vip: '0.0.0.0', port: 22, proto: 'tcp' }, { shared: true });
    const d = computeDesired(idx.endpoints.values(), idx.declared.values(), c, { guard, members: idx.memberAddrs() });
    t.same(
      d.vips.map((v) => v.key),
      ['10.99.0.5:80/tcp', 'web:80/tcp'],
      'only the allowed literal and the name remain',
    );
    t.same(
      d.refused.map((r) => [r.key, r.reason]),
      [
        ['0.0.0.0:22/tcp', 'unspecified'],
        ['10.99.0.10:7946/tcp', 'member_address'],
        ['127.0.0.1:8947/tcp', 'loopback'],
        ['169.254.169.254:80/tcp', 'link_local'],
        ['8.8.8.8:53/udp', 'outside_range'],
      ],
    );
    // This node's own address: left out here only; the allocation is what every node computes.
    const local = computeDesired(idx.endpoints.values(), idx.declared.values(), c, {
      guard,
      members: idx.memberAddrs(),
      local: new Set(['10.99.0.5']),
    });
    t.same(
      local.vips.map((v) => v.key),
      ['web:80/tcp'],
    );
    t.same(local.refused.find((r) => r.key === '10.99.0.5:80/tcp')?.reason, 'local_address');
    t.equal(local.addrs.get('web'), d.addrs.get('web'));
  },
);

import t from 'tap';
import { Zone, type VipSource } from './zone.js';
import { TYPE, wireKey } from './wire.js';
import { endpoint, newStore, pipe } from '../test/helpers/dns.js';

const addrs = (z: Zone, name: string, type: number = TYPE.A): string[] =>
  (z.get(wireKey(name))?.rdata(type) ?? []).map((r) => ('addr' in r ? r.addr : 'target' in r ? r.target : '?'));

t.test('names from node and endpoint records, kept current by the watch', async (t) => {
  const s = newStore('n1');
  s.put('node/n1', { addr: '10.0.0.1' });
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1', 'fd00::1'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  const z = new Zone({ nodeName: 'n1' });
  const stop = z.attach(s);
  t.teardown(stop);

  t.same(addrs(z, 'n1.node.weft.internal'), ['10.0.0.1']);
  t.same(addrs(z, 'web.svc.weft.internal'), ['10.1.0.1']);
  t.same(addrs(z, 'web.svc.weft.internal', TYPE.AAAA), ['fd00::1']);
  const ep = 'a.web.svc.weft.internal.';
  t.same(addrs(z, ep), ['10.1.0.1'], 'the endpoint has a name of its own (the SRV target)');
  const srv = z.get(wireKey('_http._tcp.web.svc.weft.internal'))!.rdata(TYPE.SRV);
  t.match(srv, [{ port: 80, target: ep }]);
  t.same(addrs(z, '1.0.1.10.in-addr.arpa', TYPE.PTR), [ep]);
  t.same(addrs(z, '1.0.0.10.in-addr.arpa', TYPE.PTR), ['n1.node.weft.internal.']);
  t.same(addrs(z, '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', TYPE.PTR), [ep]);
  t.ok(z.get(wireKey('svc.weft.internal')), 'an empty non-terminal exists');
  t.equal(z.get(wireKey('svc.weft.internal'))!.records, 0);
  t.ok(z.get(wireKey('_tcp.web.svc.weft.internal')), 'so does _tcp under a service');

  s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2']));
  t.same(addrs(z, 'web.svc.weft.internal'), ['10.1.0.1', '10.1.0.2'], 'a new endpoint joins its service');
  s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2'], { health: 'unhealthy' }));
  t.same(addrs(z, 'web.svc.weft.internal'), ['10.1.0.1'], 'an unhealthy endpoint is not answered');
  s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2'], { health: 'starting' }));
  t.same(addrs(z, 'web.svc.weft.internal'), ['10.1.0.1'], 'nor a starting one');
  s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2'], { health: 'healthy' }));
  t.same(addrs(z, 'web.svc.weft.internal'), ['10.1.0.1', '10.1.0.2'], 'a healthy one is');
  s.delete('svc/web/n1/a');
  t.same(addrs(z, 'web.svc.weft.internal'), ['10.1.0.2']);
  t.equal(z.get(wireKey('_http._tcp.web.svc.weft.internal')), undefined, 'the SRV name went with its last endpoint');
  t.equal(z.get(wireKey('_tcp.web.svc.weft.internal')), undefined, 'and the empty non-terminal above it');
  t.equal(z.get(wireKey('1.0.1.10.in-addr.arpa')), undefined, 'and its PTR');
  s.delete('svc/web/n1/b');
  t.equal(z.get(wireKey('web.svc.weft.internal')), undefined);
  t.equal(z.get(wireKey('svc.weft.internal')), undefined, 'no service left: svc. is gone too');
  t.same(z.stats, { names: 3, records: 4 }, 'the apex (SOA, NS), the node (A) and its PTR name remain');
});

t.test('records of an owner that is not alive vanish, and come back', async (t) => {
  const reader = newStore('n1');
  const other = newStore('n2');
  pipe(other, reader);
  reader.setAlive(['n2']);
  other.put('node/n2', { addr: '10.0.0.2' });
  other.put('svc/db/n2/x', endpoint('db', ['10.2.0.1']));
  const z = new Zone();
  t.teardown(z.attach(reader));
  t.same(addrs(z, 'db.svc.weft.internal'), ['10.2.0.1']);
  t.same(addrs(z, 'n2.node.weft.internal'), ['10.0.0.2']);
  reader.setAlive([]);
  t.equal(z.get(wireKey('db.svc.weft.internal')), undefined, 'dead owner: its service is gone');
  t.equal(z.get(wireKey('n2.node.weft.internal')), undefined, 'and its node name');
  reader.setAlive(['n2']);
  t.same(addrs(z, 'db.svc.weft.internal'), ['10.2.0.1'], 'alive again: back');
});

t.test('only the names a change touches lose their precomputed answers', async (t) => {
  const s = newStore('n1');
  s.put('svc/a/n1/1', endpoint('a', ['10.0.1.1']));
  s.put('svc/b/n1/1', endpoint('b', ['10.0.2.1']));
  const z = new Zone();
  t.teardown(z.attach(s));
  const a = z.get(wireKey('a.svc.weft.internal'))!;
  const b = z.get(wireKey('b.svc.weft.internal'))!;
  const marker = new Map();
  a.prepared = marker;
  b.prepared = marker;
  const changed: string[][] = [];
  z.onChange = (names) => changed.push(names);
  s.put('svc/b/n1/2', endpoint('b', ['10.0.2.2']));
  t.equal(a.prepared, marker, 'a kept its answers');
  t.equal(b.prepared, undefined, 'b lost them');
  t.equal(changed.length, 1, 'one change event');
  t.same(
    changed[0].sort(),
    [wireKey('2.2.0.10.in-addr.arpa'), wireKey('b.svc.weft.internal'), wireKey('2.b.svc.weft.internal')].sort(),
  );
});

t.test('malformed values are skipped and counted, never thrown', async (t) => {
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  s.put('node/n1', { addr: 'not-an-ip' });
  s.put('node/Bad_Name!', { addr: '10.0.0.9' });
  s.put('svc/web/n1/a', { service: 'web', addrs: ['10.0.0.1'] });
  s.put('svc/web/n1/b', endpoint('other', ['10.0.0.2']));
  s.put('svc/web/n1/c', 'just text');
  t.same(z.skipped, { node_record: 1, node_name: 1, endpoint_record: 2, endpoint_key: 1, vip: 0 });
  t.equal(z.get(wireKey('web.svc.weft.internal')), undefined);
  s.put('node/n1', { addr: '10.0.0.1' });
  t.same(addrs(z, 'n1.node.weft.internal'), ['10.0.0.1'], 'a later good value is taken');
  s.put('node/n1', { addr: 'bad again' });
  t.equal(z.get(wireKey('n1.node.weft.internal')), undefined, 'a bad value replaces (removes) the good one');
});

t.test('node names: case folded, several labels allowed', async (t) => {
  const s = newStore('N1.Rack-2');
  s.put('node/N1.Rack-2', { addr: '10.0.0.1' });
  const z = new Zone({ nodeName: 'N1.Rack-2' });
  t.teardown(z.attach(s));
  t.same(addrs(z, 'n1.rack-2.node.weft.internal'), ['10.0.0.1']);
  t.ok(z.get(wireKey('rack-2.node.weft.internal')), 'the label above is an empty non-terminal');
  t.equal(z.nsName, 'n1.rack-2.node.weft.internal.');
});

t.test('VIP names come from the VIP source, and their PTRs', async (t) => {
  let emit: (vip: string, addr: string | undefined) => void = () => {};
  const vips: VipSource = {
    watch(h) {
      emit = h;
      h('api', '11.0.0.7');
      return () => {};
    },
  };
  const z = new Zone();
  t.teardown(z.attach(newStore(), vips));
  t.same(addrs(z, 'api.vip.weft.internal'), ['11.0.0.7']);
  t.same(addrs(z, '7.0.0.11.in-addr.arpa', TYPE.PTR), ['api.vip.weft.internal.']);
  emit('api', '11.0.0.8');
  t.same(addrs(z, 'api.vip.weft.internal'), ['11.0.0.8']);
  t.equal(z.get(wireKey('7.0.0.11.in-addr.arpa')), undefined);
  emit('api', undefined);
  t.equal(z.get(wireKey('api.vip.weft.internal')), undefined);
  emit('Not A Label', '11.0.0.1');
  t.equal(z.skipped.vip, 1);
});

t.test('a VIP name with an IPv6 address: AAAA beside A, and its ip6.arpa PTR', async (t) => {
  let emit: (vip: string, addr: string | undefined, addr6?: string) => void = () => {};
  const vips: VipSource = {
    watch(h) {
      emit = h;
      h('api', '198.18.0.7', 'fd00:5::7');
      return () => {};
    },
  };
  const z = new Zone();
  t.teardown(z.attach(newStore(), vips));
  t.same(addrs(z, 'api.vip.weft.internal'), ['198.18.0.7']);
  t.same(addrs(z, 'api.vip.weft.internal', TYPE.AAAA), ['fd00:5::7']);
  const ptr6 = '7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.0.0.0.0.0.d.f.ip6.arpa';
  t.same(addrs(z, ptr6, TYPE.PTR), ['api.vip.weft.internal.']);
  emit('api', '198.18.0.7', undefined);
  t.same(addrs(z, 'api.vip.weft.internal', TYPE.AAAA), [], 'the IPv6 address gone: no AAAA');
  t.equal(z.get(wireKey(ptr6)), undefined);
  emit('api', undefined, 'fd00:5::8');
  t.same(addrs(z, 'api.vip.weft.internal', TYPE.AAAA), ['fd00:5::8'], 'an IPv6 address alone still answers');
});

t.test('options are checked', async (t) => {
  t.throws(() => new Zone({ ttlS: -1 }), /TTL/);
  t.throws(() => new Zone({ domain: '.' }), /root/);
  t.throws(() => new Zone({ domain: 'a..b' }), /not a DNS name/);
  t.equal(new Zone({ domain: 'Corp.Example' }).domain, 'corp.example.');
});

// Edges of the zone (issue 18, Stryker survivors in dns/zone.ts): option bounds, the SOA's
// fields, names that share a hash, records in the wrong document, instance names and tags,
// detaching, and the name and record counts as contributors come and go.
import t from 'tap';
import { Responder } from './answer.js';
import { Zone, type VipSource } from './zone.js';
import { TYPE, wireKey } from './wire.js';
import { decode, endpoint, newStore, query } from '../test/helpers/dns.js';

const targets = (z: Zone, name: string, type: number = TYPE.A): string[] =>
  (z.get(wireKey(name))?.rdata(type) ?? []).map((r) => ('addr' in r ? r.addr : 'target' in r ? r.target : '?'));

t.test('options: TTL bounds, the NS name, the SOA', async (t) => {
  t.equal(new Zone({ ttlS: 0 }).ttl, 0);
  t.equal(new Zone({ ttlS: 86400 }).ttl, 86400);
  t.equal(new Zone().ttl, 5);
  for (const ttlS of [86401, 1.5, NaN, -1]) t.throws(() => new Zone({ ttlS }), /0 to 86400/, `ttl ${ttlS}`);

  const z = new Zone({ domain: 'Corp.Example.', ttlS: 30 });
  t.same(
    [z.domain, z.domainKey, z.nsName],
    ['corp.example.', '\x04corp\x07example\x00', 'ns.corp.example.'],
    'no node name: ns.<domain>',
  );
  t.same(z.soa, {
    type: TYPE.SOA,
    mname: 'ns.corp.example.',
    rname: 'hostmaster.corp.example.',
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 30,
  });
  t.same(z.stats, { names: 1, records: 2 }, 'the apex: SOA and NS');
  t.same(targets(z, 'corp.example', TYPE.NS), ['ns.corp.example.']);
  t.equal(new Zone({ nodeName: 'Bad_Name' }).nsName, 'ns.weft.internal.', 'a node name DNS cannot carry');
  const long = Array(5).fill('n'.repeat(35)).join('.'); // 179 characters
  t.equal(new Zone({ nodeName: long + 'n' }).nsName, `${long}n.node.weft.internal.`, '180 characters');
  t.equal(new Zone({ nodeName: long + 'nn' }).nsName, 'ns.weft.internal.', '181 characters is too long');
  t.same(new Zone({ nodeName: 'n1' }).soa.mname, 'n1.node.weft.internal.');
});

t.test('names whose hashes collide are told apart, and either can go first', async (t) => {
  // s7pwu and se5fa: the same 30-bit FNV-1a hash for <name>.svc.weft.internal.
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  const r = new Responder(z);
  const a = (name: string) => decode(r.handle(query(`${name}.svc.weft.internal`, 'A'), false));
  const hash = (name: string) => z.get(wireKey(`${name}.svc.weft.internal`))?.hash;
  s.put('svc/s7pwu/n1/x', endpoint('s7pwu', ['10.0.0.1']));
  s.put('svc/se5fa/n1/x', endpoint('se5fa', ['10.0.0.2']));
  t.equal(hash('s7pwu'), hash('se5fa'), 'the same hash');
  t.same(a('s7pwu').answers[0].data, '10.0.0.1');
  t.same(a('se5fa').answers[0].data, '10.0.0.2');
  s.delete('svc/s7pwu/n1/x'); // the older entry: second in the chain
  t.equal(a('s7pwu').rcode, 'NXDOMAIN');
  t.same(a('se5fa').answers[0].data, '10.0.0.2');
  s.put('svc/s7pwu/n1/x', endpoint('s7pwu', ['10.0.0.3']));
  s.delete('svc/s7pwu/n1/x'); // now the newer entry: the head of the chain
  t.same(a('se5fa').answers[0].data, '10.0.0.2', 'the other one is still found');
  t.equal(a('s7pwu').rcode, 'NXDOMAIN');
  s.put('svc/s7pwu/n1/x', endpoint('s7pwu', ['10.0.0.4']));
  s.delete('svc/se5fa/n1/x');
  t.same(a('s7pwu').answers[0].data, '10.0.0.4');
  t.equal(a('se5fa').rcode, 'NXDOMAIN');
});

t.test('records in the wrong document, deletions, and what is counted', async (t) => {
  const z = new Zone();
  z.onNode({ key: 'node/n2', after: { value: { addr: '10.0.0.2' }, owner: 'n3' } });
  z.onEndpoint({ key: 'svc/web/n2/a', after: { value: endpoint('web', ['10.0.0.5']), owner: 'n3' } });
  t.same(z.skipped, { node_record: 0, node_name: 1, endpoint_record: 0, endpoint_key: 1, vip: 0 });
  t.same(z.stats, { names: 1, records: 2 }, 'neither was taken');
  z.onEndpoint({ key: 'svc/web/n2', after: { value: endpoint('web', ['10.0.0.5']) } });
  t.equal(z.skipped.endpoint_key, 2, 'a key that is not an endpoint key');

  z.onNode({ key: 'node/n2', after: { value: { addr: '10.0.0.2' }, owner: 'n2' } });
  t.same(targets(z, 'n2.node.weft.internal'), ['10.0.0.2'], 'its own document');
  t.same(z.stats, { names: 3, records: 4 });
  z.onNode({ key: 'node/n2', after: undefined });
  t.equal(z.get(wireKey('n2.node.weft.internal')), undefined, 'deleted');
  t.same(z.stats, { names: 1, records: 2 });
  t.same(z.skipped.node_name, 1, 'a deletion is not a bad value');
});

t.test('instance names, tags and ports', async (t) => {
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  const http = { http: { port: 80, proto: 'tcp' as const } };
  s.put('svc/web/n1/c1', endpoint('web', ['10.0.0.1'], { name: 'front', tags: ['blue'], ports: http }));
  s.put('svc/web/n1/c2', endpoint('web', ['10.0.0.2'], { tags: ['green'], ports: http }));
  t.same(targets(z, 'front.web.svc.weft.internal'), ['10.0.0.1'], 'the endpoint name, not its id');
  t.same(targets(z, 'c2.web.svc.weft.internal'), ['10.0.0.2'], 'the id when there is no name');
  t.equal(z.get(wireKey('c1.web.svc.weft.internal')), undefined);
  t.same(targets(z, 'blue.web.svc.weft.internal'), ['10.0.0.1'], 'a tag is a name');
  t.same(targets(z, 'green.web.svc.weft.internal'), ['10.0.0.2']);
  t.same(targets(z, 'web.svc.weft.internal'), ['10.0.0.1', '10.0.0.2']);
  t.same(targets(z, '_http._tcp.blue.web.svc.weft.internal', TYPE.SRV), ['front.web.svc.weft.internal.']);
  t.same(targets(z, '_http._tcp.web.svc.weft.internal', TYPE.SRV), [
    'front.web.svc.weft.internal.',
    'c2.web.svc.weft.internal.',
  ]);
  t.same(targets(z, '1.0.0.10.in-addr.arpa', TYPE.PTR), ['front.web.svc.weft.internal.']);

  s.put('svc/api/n1/x', endpoint('api', [], { ports: http }));
  t.equal(z.get(wireKey('_http._tcp.api.svc.weft.internal')), undefined, 'no address: no SRV');
  t.equal(z.get(wireKey('api.svc.weft.internal')), undefined);
  s.put('svc/api/n1/x', endpoint('api', ['10.0.1.1', '10.0.1.1']));
  t.equal(z.get(wireKey('api.svc.weft.internal'))!.records, 2, 'both copies counted');
  t.same(targets(z, 'api.svc.weft.internal'), ['10.0.1.1'], 'one answered');
  t.same(z.get(wireKey('api.svc.weft.internal'))!.types(), new Set([TYPE.A]));
  t.same([...z.get(wireKey('weft.internal'))!.types()].sort(), [TYPE.NS, TYPE.SOA]);
});

t.test('records come in contributor order, whatever order they arrived in', async (t) => {
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  for (const id of ['c', 'a', 'b']) s.put(`svc/web/n1/${id}`, endpoint('web', [`10.0.0.${id.charCodeAt(0) - 96}`]));
  t.same(targets(z, 'web.svc.weft.internal'), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
});

t.test('after detaching, the store and the VIP source no longer reach the zone', async (t) => {
  const s = newStore('n1');
  let emit: ((vip: string, addr: string | undefined) => void) | undefined;
  const vips: VipSource = {
    watch(h) {
      emit = h;
      return () => (emit = undefined);
    },
  };
  const z = new Zone();
  const stop = z.attach(s, vips);
  s.put('svc/web/n1/a', endpoint('web', ['10.0.0.1']));
  emit!('api', '11.0.0.1');
  t.same(targets(z, 'api.vip.weft.internal'), ['11.0.0.1']);
  stop();
  t.equal(emit, undefined, 'the VIP watch was stopped');
  s.put('svc/web/n1/b', endpoint('web', ['10.0.0.2']));
  t.same(targets(z, 'web.svc.weft.internal'), ['10.0.0.1'], 'a later store change does not arrive');
});

t.test('VIPs: IPv6 alone, and bad addresses skipped', async (t) => {
  const z = new Zone();
  z.setVip('api', undefined, 'fd00::7');
  t.same(targets(z, 'api.vip.weft.internal', TYPE.AAAA), ['fd00::7']);
  t.same(targets(z, 'api.vip.weft.internal'), []);
  z.setVip('api', '11.0.0.1', 'not-an-address');
  t.equal(z.skipped.vip, 1);
  t.equal(z.get(wireKey('api.vip.weft.internal')), undefined, 'a bad value withdraws the old one');
  z.setVip('db', 'nope');
  t.equal(z.skipped.vip, 2);
  z.setVip('db', '11.0.0.2');
  z.setVip('web', '11.0.0.3');
  t.same(
    [targets(z, 'db.vip.weft.internal'), targets(z, 'web.vip.weft.internal')],
    [['11.0.0.2'], ['11.0.0.3']],
    'each VIP is its own contributor: a second does not withdraw the first',
  );
});

t.test('change events name only the names that changed, and none when nothing did', async (t) => {
  const z = new Zone();
  const events: string[][] = [];
  z.onChange = (names) => events.push(names.sort());
  z.setVip('gone', undefined);
  t.same(events, [], 'nothing there, nothing withdrawn: no event');
  z.setVip('api', '11.0.0.1');
  t.same(events.at(-1), [wireKey('1.0.0.11.in-addr.arpa'), wireKey('api.vip.weft.internal')]);
  z.setVip('api', undefined);
  t.same(events.at(-1), [wireKey('1.0.0.11.in-addr.arpa'), wireKey('api.vip.weft.internal')]);
  z.setVip('api', '11.0.0.2');
  t.same(
    events.at(-1),
    [wireKey('2.0.0.11.in-addr.arpa'), wireKey('api.vip.weft.internal')],
    'the withdrawn VIP left nothing behind to withdraw again',
  );
  t.same(z.stats, { names: 3, records: 4 });

  // A name another contributor keeps alive: withdrawing the VIP must forget it was ever the VIP's.
  z.onNode({ key: 'node/n9', after: { value: { addr: '11.0.0.2' } } });
  z.setVip('api', undefined);
  z.setVip('api', '11.0.0.3');
  t.same(events.at(-1), [wireKey('3.0.0.11.in-addr.arpa'), wireKey('api.vip.weft.internal')]);
});

t.test('empty non-terminals: NODATA while something below has records, NXDOMAIN after', async (t) => {
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  const r = new Responder(z);
  const rcode = (name: string) => decode(r.handle(query(name, 'A'), false)).rcode;
  s.put('svc/web/n1/a', endpoint('web', ['10.0.0.1'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  s.put('svc/web/n1/b', endpoint('web', ['10.0.0.2'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  t.equal(rcode('_tcp.web.svc.weft.internal'), 'NOERROR');
  t.equal(rcode('svc.weft.internal'), 'NOERROR');
  s.delete('svc/web/n1/a');
  t.equal(rcode('_tcp.web.svc.weft.internal'), 'NOERROR', 'one endpoint left below it');
  t.same(z.stats.names, 5, 'records at the apex, web, b.web, _http._tcp.web and the PTR name');
  s.delete('svc/web/n1/b');
  t.equal(rcode('_tcp.web.svc.weft.internal'), 'NXDOMAIN');
  t.equal(rcode('svc.weft.internal'), 'NXDOMAIN');
  t.equal(rcode('weft.internal'), 'NOERROR', 'the apex stays');
  t.same(z.stats, { names: 1, records: 2 });
});

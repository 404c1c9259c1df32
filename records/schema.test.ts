// Which document each key belongs in, and the readers' own check of it (docs/ARCHITECTURE.md,
// "Owner writes, and the live view"); the store enforces the same rule (crdt-store/admission.test.ts).
import t from 'tap';
import {
  endpointRecordOf,
  ownedAsKeySays,
  parseEndpointRecord,
  recordOwner,
  type RecordSource,
  type SourceEvent,
} from './schema.js';
import { RecordIndex } from '../lb/records.js';
import { Zone } from '../dns/zone.js';
import { wireKey } from '../dns/wire.js';
import { endpoint } from '../test/helpers/dns.js';

t.test('recordOwner: owned key spaces name their node, shared ones "*", others none', async (t) => {
  t.equal(recordOwner('node/n1'), 'n1');
  t.equal(recordOwner('svc/web/n1/abc'), 'n1');
  t.equal(recordOwner('overlay/n1'), 'n1');
  t.equal(recordOwner('keyring/n1'), 'n1');
  t.equal(recordOwner('kv/a/b'), '*');
  t.equal(recordOwner('vip/web:80/tcp'), '*');
  t.equal(recordOwner('keyring-op'), '*');
  t.equal(recordOwner('other/thing'), undefined);
  for (const k of ['node/', 'node/a/b', 'svc/web', 'svc/web/x', 'overlay/'])
    t.equal(recordOwner(k), '', `${k}: belongs nowhere`);
  t.ok(ownedAsKeySays('svc/web/n1/a', 'n1'));
  t.notOk(ownedAsKeySays('svc/web/n1/a', '*'));
  t.notOk(ownedAsKeySays('svc/web/n1/a', 'n2'));
  t.ok(ownedAsKeySays('svc/web/n1/a', undefined), 'a source that names no owner is not second-guessed');
});

/** A source replaying fixed events to each watch. */
const source = (events: SourceEvent[]): RecordSource => ({
  watch(prefix, handler) {
    for (const e of events) if (e.key.startsWith(prefix)) handler(e);
    return () => {};
  },
});

t.test('the LB and DNS readers skip records held by anyone but the owner the key names', async (t) => {
  const web = (addr: string) => endpoint('web', [addr]);
  const events: SourceEvent[] = [
    { key: 'svc/web/n1/a', after: { value: web('10.0.0.1'), owner: 'n1' } },
    { key: 'svc/web/n2/a', after: { value: web('6.6.6.6'), owner: '*' } },
    { key: 'svc/web/n3/a', after: { value: web('6.6.6.7'), owner: 'n4' } },
    { key: 'node/n2', after: { value: { addr: '6.6.6.8' }, owner: 'n4' } },
    { key: 'vip/ssh:22/tcp', after: { value: { vip: 'ssh', port: 22, proto: 'tcp' }, owner: 'n4' } },
  ];
  const index = new RecordIndex();
  index.attach(source(events), () => {});
  t.same([...index.endpoints.keys()], ['svc/web/n1/a']);
  t.same([...index.declared.keys()], []);
  t.same(index.skipped, { endpoint_record: 0, endpoint_key: 2, vip_record: 0, vip_key: 1 });
  const zone = new Zone({ nodeName: 'n1' });
  zone.attach(source(events));
  t.equal(zone.get(wireKey('n2.node.weft.internal')), undefined, 'no node name from a record n2 does not own');
  t.equal(zone.skipped.endpoint_key, 2);
  t.equal(zone.skipped.node_name, 1);
});

t.test('a frozen store value is parsed once, and every reader holds the same frozen record', async (t) => {
  const freeze = <T>(v: T): T => {
    if (typeof v === 'object' && v !== null) {
      for (const c of Object.values(v)) freeze(c);
      Object.freeze(v);
    }
    return v;
  };
  const value = freeze(endpoint('web', ['10.0.0.1'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  const a = endpointRecordOf(value)!;
  t.same(a, parseEndpointRecord(value), 'as parseEndpointRecord reads it');
  t.equal(endpointRecordOf(value), a, 'the same object the second time');
  t.ok(Object.isFrozen(a) && Object.isFrozen(a.addrs) && Object.isFrozen(a.ports.http), 'frozen, deep');
  t.throws(() => (a.addrs as string[]).push('10.0.0.2'), 'a reader cannot change what another reads');
  const loose = endpoint('web', ['10.0.0.1']);
  t.not(endpointRecordOf(loose), endpointRecordOf(loose), 'a value that could change is parsed afresh');
  const bad = freeze({ service: 'web' });
  t.equal(endpointRecordOf(bad), undefined);
  t.equal(endpointRecordOf(bad), undefined, 'a bad value stays bad');
});

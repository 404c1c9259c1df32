import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import type { DeclaredVip, EndpointRecord, Health } from '../records/schema.js';
import { parseCidr, parseCidr6 } from './allocator.js';
import { computeDesired, type DesiredState } from './desired.js';
import { DesiredIndex } from './desired-index.js';
import type { EndpointEntry } from './records.js';
import { VipGuard } from './vip-guard.js';

// A small world, so that VIPs collide, the CIDR fills (unallocated), literals conflict
// with names, the guard refuses some literals, members and local addresses matter.
const cidr = parseCidr('198.18.0.0/29'); // 6 slots
const cidr6 = parseCidr6('fd00:5::/125'); // 7 slots
const guard = new VipGuard({ vipCidr: cidr, vipCidr6: cidr6, allow: ['10.99.0.0/24'] });
const NAMES = ['a', 'b', 'c', 'd', 'e', 'web', 'api', '198.18.0.3', '198.18.0.5', '10.99.0.7', '10.5.5.5', 'fd00:5::3'];
const ADDRS = ['10.1.0.1', '10.1.0.2', '10.1.0.3', 'fd00:1::1', 'fe80::1', '::1', '198.18.0.4'];
const MEMBER_ADDRS = ['198.18.0.5', '198.18.0.2', '10.99.0.7', '10.0.0.1'];
const LOCAL_ADDRS = ['198.18.0.1', '198.18.0.3', '10.99.0.7', 'fd00:5::1', '10.0.0.2'];
const EP_KEYS = ['svc/s/n1/1', 'svc/s/n1/2', 'svc/s/n2/1', 'svc/t/n2/2', 'svc/t/n3/1'];
const DECL_KEYS = NAMES.slice(0, 6).map((n) => `vip/${n}:80/tcp`);

const binding = fc.record({
  vip: fc.constantFrom(...NAMES),
  port: fc.constantFrom(80, 443),
  proto: fc.constantFrom('tcp' as const, 'udp' as const),
  targetPort: fc.constantFrom(8080, 8081),
  since: fc.option(fc.constantFrom(0, 5, 10, 20), { nil: undefined }),
});
const record = fc.record({
  addrs: fc.subarray(ADDRS, { minLength: 1 }),
  health: fc.constantFrom<Health>('healthy', 'none', 'unhealthy', 'starting'),
  vips: fc.array(binding, { maxLength: 3 }),
});
const declared = fc.record({
  name: fc.constantFrom(...NAMES.slice(0, 6), '198.18.0.3', '10.5.5.5'),
  port: fc.constantFrom(80, 443),
  since: fc.option(fc.constantFrom(0, 5, 15), { nil: undefined }),
});

type Op =
  | { op: 'ep'; key: string; rec: { addrs: string[]; health: Health; vips: EndpointRecord['vips'] } | null }
  | { op: 'decl'; key: string; d: { name: string; port: number; since: number | undefined } | null }
  | { op: 'restamp'; key: string; since: number | undefined; health: Health }
  | { op: 'members'; addrs: string[] }
  | { op: 'local'; addrs: string[] }
  | { op: 'compute' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('ep' as const),
      key: fc.constantFrom(...EP_KEYS),
      rec: fc.option(record, { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('decl' as const),
      key: fc.constantFrom(...DECL_KEYS),
      d: fc.option(declared, { nil: null }),
    }),
  },
  // The same bindings with another claim or health: no VIP comes or goes.
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('restamp' as const),
      key: fc.constantFrom(...EP_KEYS),
      since: fc.option(fc.constantFrom(0, 5, 10, 20), { nil: undefined }),
      health: fc.constantFrom<Health>('healthy', 'none', 'unhealthy'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('members' as const), addrs: fc.subarray(MEMBER_ADDRS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('local' as const), addrs: fc.subarray(LOCAL_ADDRS) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'compute' as const }) },
);

const entry = (key: string, r: NonNullable<Extract<Op, { op: 'ep' }>['rec']>): EndpointEntry => {
  const [, service, node, id] = key.split('/');
  const rec: EndpointRecord = { service, addrs: r.addrs, ports: {}, health: r.health, vips: r.vips, source: 'api' };
  return { key, node, id, rec };
};

/** Maps as sorted entries: their order carries no meaning. */
const plain = (d: DesiredState) => ({
  ...d,
  addrs: [...d.addrs].sort(),
  addrs6: [...d.addrs6].sort(),
  conflicts: [...d.conflicts].sort(),
});

/** Runs the ops on an index and on a plain record map, comparing after every compute and at the end. */
function check(ops: Op[], withGuard: boolean, withSix: boolean): void {
  const opts = { guard: withGuard ? guard : undefined, cidr6: withSix ? cidr6 : undefined };
  const idx = new DesiredIndex(cidr, opts);
  const endpoints = new Map<string, EndpointEntry>();
  const decls = new Map<string, DeclaredVip>();
  let members = new Set<string>();
  let local = new Set<string>();
  const compare = (step: number) => {
    const inc = idx.compute({ members, local });
    const full = computeDesired(endpoints.values(), decls.values(), cidr, { ...opts, members, local });
    if (!isDeepStrictEqual(plain(inc), plain(full)))
      throw new Error(`step ${step}: incremental\n${JSON.stringify(plain(inc))}\nfull\n${JSON.stringify(plain(full))}`);
  };
  ops.forEach((o, i) => {
    if (o.op === 'ep') {
      // Every change is a new entry, as RecordIndex makes one per store event.
      const e = o.rec ? entry(o.key, o.rec) : undefined;
      endpoints.delete(o.key);
      if (e) endpoints.set(o.key, e);
      idx.endpoint(o.key, e);
    } else if (o.op === 'restamp') {
      const cur = endpoints.get(o.key);
      if (!cur) return;
      const vips = cur.rec.vips.map((b) => ({ ...b, since: o.since }));
      const e = entry(o.key, { addrs: cur.rec.addrs, health: o.health, vips });
      endpoints.delete(o.key);
      endpoints.set(o.key, e);
      idx.endpoint(o.key, e);
    } else if (o.op === 'decl') {
      const d: DeclaredVip | undefined = o.d
        ? { vip: o.d.name, port: o.d.port, proto: 'tcp', ...(o.d.since === undefined ? {} : { since: o.d.since }) }
        : undefined;
      decls.delete(o.key);
      if (d) decls.set(o.key, d);
      idx.declare(o.key, d);
    } else if (o.op === 'members') members = new Set(o.addrs);
    else if (o.op === 'local') local = new Set(o.addrs);
    else compare(i);
  });
  compare(ops.length);
}

t.test('the incremental desired state equals computeDesired after any sequence of changes', async (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.boolean(), fc.boolean(), (ops, g, six) => check(ops, g, six)),
    { numRuns: 1500 },
  );
  t.pass('1,500 random sequences of endpoint, declaration, member and local-address changes');
});

t.test('a VIP that did not change keeps its object; one that did gets a new one', async (t) => {
  const idx = new DesiredIndex(parseCidr('198.18.0.0/15'));
  const ep = (key: string, vip: string, addr: string): EndpointEntry =>
    entry(key, { addrs: [addr], health: 'none', vips: [{ vip, port: 80, proto: 'tcp', targetPort: 8080 }] });
  idx.endpoint('svc/a/n1/1', ep('svc/a/n1/1', 'a', '10.0.0.1'));
  idx.endpoint('svc/b/n1/1', ep('svc/b/n1/1', 'b', '10.0.0.2'));
  const d1 = idx.compute();
  t.equal(idx.compute(), d1, 'nothing changed: the same state');
  idx.endpoint('svc/b/n1/1', ep('svc/b/n1/1', 'b', '10.0.0.3'));
  const d2 = idx.compute();
  t.equal(d2.vips[0], d1.vips[0], 'VIP a untouched: the same object');
  t.not(d2.vips[1], d1.vips[1], 'VIP b changed: a new object');
  t.same(d2.vips[1].backends, [{ addr: '10.0.0.3', port: 8080 }]);
  t.equal(d2.addrs, d1.addrs, 'no VIP came or went, no claim moved: the allocation is kept');
});

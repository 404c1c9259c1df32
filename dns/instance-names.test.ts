// Readable instance names and tag names in the zone (issue 14): sanitised, unique, the same
// whatever order the records arrive in, and never confused with a tag or an SRV name.
import fc from 'fast-check';
import t from 'tap';
import { sanitiseLabel, suffixedLabel } from './instance-names.js';
import { Zone } from './zone.js';
import { TYPE, wireKey } from './wire.js';
import { endpoint, newStore } from '../test/helpers/dns.js';
import type { RecordSource, SourceEvent } from '../records/schema.js';

const DOMAIN = 'weft.internal';
/** The records at a name of the domain, or (ending in .arpa) a reverse name. */
const rdata = (z: Zone, name: string, type: number = TYPE.A): string[] =>
  (z.get(wireKey(name.endsWith('.arpa') ? name : `${name}.${DOMAIN}`))?.rdata(type) ?? [])
    .map((r) => ('addr' in r ? r.addr : 'target' in r ? r.target : '?'))
    .sort();

t.test('sanitising: lower case, one "-" per run of other characters, no "-" at the ends, 63 at most', async (t) => {
  t.equal(sanitiseLabel('Web_1'), 'web-1');
  t.equal(sanitiseLabel('/my.app--x'), 'my-app-x', 'never "--" in a plain name');
  t.equal(sanitiseLabel('__a__'), 'a');
  t.equal(sanitiseLabel('___'), 'instance');
  t.equal(sanitiseLabel('é'), 'instance');
  t.equal(sanitiseLabel('a'.repeat(70)), 'a'.repeat(63));
  t.equal(sanitiseLabel('a'.repeat(62) + '_b'), 'a'.repeat(62), 'cut at 63, then no trailing "-"');
  const s = suffixedLabel('a'.repeat(63), 'n1', 'x');
  t.ok(s.length <= 63 && /^a+--[0-9a-f]{8}$/.test(s), s);
});

t.test('instance names from the registration id or the container name; SRV targets and PTRs use them', async (t) => {
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  s.put('svc/web/n1/Web_1', endpoint('web', ['10.1.0.1'], { ports: { http: { port: 80, proto: 'tcp' } } }));
  s.put(
    'svc/web/n1/0123456789ab',
    endpoint('web', ['10.1.0.2'], {
      name: 'festive_curie',
      source: 'docker',
      ports: { http: { port: 81, proto: 'tcp' } },
    }),
  );
  t.same(rdata(z, 'web-1.web.svc'), ['10.1.0.1']);
  t.same(rdata(z, 'festive-curie.web.svc'), ['10.1.0.2'], 'a container is named by its name, not its id');
  t.same(rdata(z, '_http._tcp.web.svc', TYPE.SRV), [
    'festive-curie.web.svc.weft.internal.',
    'web-1.web.svc.weft.internal.',
  ]);
  t.same(
    rdata(z, '1.0.1.10.in-addr.arpa', TYPE.PTR).map((x) => x.replace(`.${DOMAIN}.`, '')),
    ['web-1.web.svc'],
  );
});

t.test('tags: <tag>.<service>.svc answers the serving endpoints with that tag, with SRV under it', async (t) => {
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  const http = { http: { port: 80, proto: 'tcp' as const } };
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1'], { tags: ['primary', 'v2'], ports: http }));
  s.put('svc/web/n1/b', endpoint('web', ['10.1.0.2'], { tags: ['v2'], ports: http }));
  s.put('svc/web/n1/c', endpoint('web', ['10.1.0.3'], { tags: ['primary'], health: 'unhealthy', ports: http }));
  s.put('svc/db/n1/d', endpoint('db', ['10.2.0.1'], { tags: ['primary'] }));
  t.same(rdata(z, 'primary.web.svc'), ['10.1.0.1'], 'only the serving endpoints tagged primary, only of web');
  t.same(rdata(z, 'v2.web.svc'), ['10.1.0.1', '10.1.0.2']);
  t.same(rdata(z, 'web.svc'), ['10.1.0.1', '10.1.0.2'], 'the service name is unchanged');
  t.same(rdata(z, '_http._tcp.primary.web.svc', TYPE.SRV), ['a.web.svc.weft.internal.']);
  t.same(rdata(z, 'primary.db.svc'), ['10.2.0.1']);
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1'], { tags: ['v2'], ports: http }));
  t.equal(z.get(wireKey(`primary.web.svc.${DOMAIN}`)), undefined, 'a tag taken off leaves its name');
});

t.test(
  'a tag wins over an instance of the same name, which is then suffixed; it gets its name back when the tag goes',
  async (t) => {
    const s = newStore('n1');
    const z = new Zone();
    t.teardown(z.attach(s));
    s.put('svc/web/n1/primary', endpoint('web', ['10.1.0.9']));
    t.same(rdata(z, 'primary.web.svc'), ['10.1.0.9'], 'an instance called primary');
    s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1'], { tags: ['primary'] }));
    t.same(rdata(z, 'primary.web.svc'), ['10.1.0.1'], 'the tag name answers only the tagged endpoint');
    const renamed = suffixedLabel('primary', 'n1', 'primary');
    t.same(rdata(z, `${renamed}.web.svc`), ['10.1.0.9'], `the instance is now ${renamed}`);
    t.same(rdata(z, '9.0.1.10.in-addr.arpa', TYPE.PTR), [`${renamed}.web.svc.${DOMAIN}.`], 'its PTR follows');
    s.delete('svc/web/n1/a');
    t.same(rdata(z, 'primary.web.svc'), ['10.1.0.9'], 'tag gone: the instance has its plain name again');
    t.equal(z.get(wireKey(`${renamed}.web.svc.${DOMAIN}`)), undefined);
  },
);

t.test('names that sanitise alike are all suffixed; a lone one keeps its plain name', async (t) => {
  const s = newStore('n1');
  const z = new Zone();
  t.teardown(z.attach(s));
  s.put('svc/web/n1/Web.1', endpoint('web', ['10.1.0.1']));
  t.same(rdata(z, 'web-1.web.svc'), ['10.1.0.1']);
  s.put('svc/web/n1/web_1', endpoint('web', ['10.1.0.2']));
  t.equal(z.get(wireKey(`web-1.web.svc.${DOMAIN}`)), undefined, 'no plain name when two share it');
  t.same(rdata(z, `${suffixedLabel('web-1', 'n1', 'Web.1')}.web.svc`), ['10.1.0.1']);
  t.same(rdata(z, `${suffixedLabel('web-1', 'n1', 'web_1')}.web.svc`), ['10.1.0.2']);
  s.put('svc/db/n1/web-1', endpoint('db', ['10.2.0.1']));
  t.same(rdata(z, 'web-1.db.svc'), ['10.2.0.1'], 'names are unique within a service, not across services');
});

const NODES = ['n1', 'n2', 'n3'];

/** Endpoints as (node, id, name, tags); each gets its own address so a PTR names it. */
const arbEndpoints = fc.uniqueArray(
  fc.record({
    node: fc.constantFrom(...NODES),
    id: fc.constantFrom('a', 'A', 'a_', 'b', 'b.1', 'b-1', 'primary', 'x--y', '_'),
    name: fc.option(fc.constantFrom('web', 'Web', 'web_', 'primary', 'v2', '---'), { nil: undefined }),
    tags: fc.subarray(['primary', 'v2', 'web']),
  }),
  { selector: (e) => `${e.node}/${e.id}`, maxLength: 12 },
);

/** A record source that delivers each write at once, owned by the node in its key (as the store's live view does). */
function liveView() {
  const handlers: [string, (e: SourceEvent) => void][] = [];
  const emit = (key: string, value: unknown) => {
    const after = value === undefined ? undefined : { value, owner: key.split('/')[2] };
    for (const [prefix, h] of handlers) if (key.startsWith(prefix)) h({ key, after });
  };
  const source: RecordSource = {
    watch(prefix, handler) {
      handlers.push([prefix, handler]);
      return () => {};
    },
  };
  return { source, emit };
}

type Ep = { node: string; id: string; name?: string; tags: string[] };
/** One write: endpoint i gets tags/name variant v (an index into the variants), or goes (v undefined). */
type Op = { i: number; v: number | undefined };
const VARIANTS: Pick<Ep, 'name' | 'tags'>[] = [
  { tags: [] },
  { tags: ['primary'] },
  { name: 'primary', tags: ['v2'] },
  { name: 'Web', tags: ['web'] },
];

/** endpoint address -> its instance name (from its PTR), after the writes of `ops` in order. */
function namesAfter(eps: Ep[], ops: Op[]): Map<string, string> {
  const { source, emit } = liveView();
  const z = new Zone();
  z.attach(source);
  for (const { i, v } of ops) {
    const e = { ...eps[i]!, ...(v === undefined ? {} : VARIANTS[v]) };
    const value = endpoint('web', [`10.0.0.${i + 1}`], { tags: e.tags, ...(e.name ? { name: e.name } : {}) });
    emit(`svc/web/${e.node}/${e.id}`, v === undefined ? undefined : value);
  }
  const out = new Map<string, string>();
  eps.forEach((_, i) => {
    const ptr = z.get(wireKey(`${i + 1}.0.0.10.in-addr.arpa`))?.rdata(TYPE.PTR)[0];
    if (ptr && 'target' in ptr) out.set(`10.0.0.${i + 1}`, ptr.target);
  });
  return out;
}

/** The same final state written at once, in index order: endpoint i as its last op left it. */
function finalOps(ops: Op[]): Op[] {
  const last = new Map<number, number | undefined>();
  for (const op of ops) last.set(op.i, op.v);
  return [...last]
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => a - b)
    .map(([i, v]) => ({ i, v }));
}

const arbHistory = arbEndpoints.chain((eps) =>
  fc.tuple(
    fc.constant(eps),
    fc.array(
      fc.record({
        i: fc.nat(Math.max(0, eps.length - 1)),
        v: fc.option(fc.nat(VARIANTS.length - 1), { nil: undefined, freq: 4 }),
      }),
      { maxLength: 40 },
    ),
  ),
);

t.test(
  'property: any history of arrivals, changes and departures gives every endpoint the same, distinct, resolving name',
  async (t) => {
    fc.assert(
      fc.property(arbHistory, ([eps, ops]) => {
        if (eps.length === 0) return true;
        const final = finalOps(ops);
        const direct = namesAfter(eps, final);
        const churned = namesAfter(eps, ops);
        if (JSON.stringify([...direct].sort()) !== JSON.stringify([...churned].sort())) return false;
        if (direct.size !== final.length) return false;
        const names = [...direct.values()];
        const tags = new Set(final.flatMap(({ i, v }) => ({ ...eps[i]!, ...VARIANTS[v!] }).tags));
        return (
          new Set(names).size === names.length &&
          names.every((n) => n.length <= 63 + '.web.svc.weft.internal.'.length && !tags.has(n.split('.')[0]!))
        );
      }),
      { numRuns: 500 },
    );
    t.pass('500 random histories of puts (with changing names and tags) and deletes');
  },
);

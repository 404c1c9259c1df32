// The fixtures are `docker inspect` output captured from dockerd 20.10 (trimmed to the
// parts that matter), one container per case: see fixtures/*.json.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseEndpointRecord, isServing } from '../records/schema.js';
import { addressesOf, healthOf, mapContainer, type InspectInfo } from './container.js';

const fixture = (name: string): InspectInfo =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as InspectInfo;
const ctx = { node: 'n1', nodeAddr: '192.0.2.10' };

t.test('a labelled container on a user-defined network', async (t) => {
  const info = fixture('web1');
  const m = mapContainer(info, ctx);
  t.equal(m.kind, 'endpoint');
  if (m.kind !== 'endpoint') return;
  t.equal(m.key, 'svc/web/n1/6db0e73c993d');
  t.same(m.record, {
    service: 'web',
    addrs: ['10.213.7.2'],
    ports: {
      dns: { port: 53, proto: 'udp' },
      http: { port: 8080, proto: 'tcp' },
      metrics: { port: 9100, proto: 'tcp' },
    },
    health: 'none',
    vips: [
      { vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 },
      { vip: '10.99.0.1', port: 53, proto: 'udp', targetPort: 53 },
    ],
    source: 'docker',
    container: info.Id,
  });
  t.same(m.problems, []);
  t.same(parseEndpointRecord(JSON.parse(JSON.stringify(m.record))), m.record, 'what readers parse is what was written');
  t.same(
    Object.keys(m.record.ports),
    ['dns', 'http', 'metrics'],
    'ports in name order, so equal containers give equal values',
  );
});

t.test('two networks, one with IPv6: every address, sorted', async (t) => {
  const m = mapContainer(fixture('dual1'), ctx);
  t.match(m, {
    kind: 'endpoint',
    key: 'svc/dual/n1/29cb95842649',
    record: { addrs: ['10.213.7.3', '10.213.8.2', 'fd00:213:8::2'] },
  });
  const info = fixture('dual1');
  const nets = info.NetworkSettings!.Networks!;
  const reversed = { ...info, NetworkSettings: { Networks: Object.fromEntries(Object.entries(nets).reverse()) } };
  t.same(addressesOf(reversed, undefined), addressesOf(info, undefined), 'network order does not matter');
});

t.test('network mode host: the node address', async (t) => {
  t.match(mapContainer(fixture('host1'), ctx), {
    kind: 'endpoint',
    record: { service: 'hosty', addrs: ['192.0.2.10'], ports: { ssh: { port: 2222, proto: 'tcp' } } },
  });
  t.match(mapContainer(fixture('host1'), { node: 'n1', nodeAddr: undefined }), {
    kind: 'invalid',
    reason: /network mode host.*no address/,
  });
  t.match(mapContainer(fixture('host1'), { node: 'n1', nodeAddr: 'not-an-ip' }), { kind: 'invalid' });
});

t.test('no address of its own: network none, or another container’s namespace', async (t) => {
  t.match(mapContainer(fixture('none1'), ctx), { kind: 'invalid', reason: /network mode none/, problems: [] });
  t.match(mapContainer(fixture('shared1'), ctx), {
    kind: 'invalid',
    reason: /shares the network of container 6db0e73c993d.*label that container/,
  });
});

t.test('health follows the healthcheck', async (t) => {
  const cases: [string, string, boolean][] = [
    ['health1', 'healthy', true],
    ['unhealthy1', 'unhealthy', false],
    ['starting1', 'starting', false],
    ['web1', 'none', true],
  ];
  for (const [name, health, serving] of cases) {
    const m = mapContainer(fixture(name), ctx);
    t.equal(m.kind, 'endpoint', name);
    if (m.kind !== 'endpoint') continue;
    t.equal(m.record.health, health, name);
    t.equal(isServing(m.record), serving, `${name} served: ${serving}`);
  }
  t.equal(healthOf({ State: { Health: { Status: 'something-new' } } }), 'starting', 'an unknown status is not served');
  t.equal(healthOf({ State: { Health: null } }), 'none');
  t.equal(healthOf({}), 'none');
});

t.test('paused keeps its record; exited and unlabelled have none', async (t) => {
  t.match(mapContainer(fixture('paused1'), ctx), { kind: 'endpoint', record: { addrs: ['10.213.7.7'] } });
  t.same(mapContainer(fixture('exited1'), ctx), { kind: 'none' });
  t.same(mapContainer(fixture('plain1'), ctx), { kind: 'none' });
  const restarting = fixture('web1');
  restarting.State = { ...restarting.State, Restarting: true };
  t.same(mapContainer(restarting, ctx), { kind: 'none' }, 'restarting');
});

t.test('bad labels: a bad service name leaves the container out, other bad labels only themselves', async (t) => {
  t.match(mapContainer(fixture('bad1'), ctx), {
    kind: 'invalid',
    reason: /weft.service/,
    problems: [
      { label: 'weft.port.http', value: '99999/tcp', reason: /1 to 65535/ },
      { label: 'weft.service', value: 'Bad_Name', reason: /DNS label/ },
    ],
  });
  const m = mapContainer(fixture('badport1'), ctx);
  t.match(m, {
    kind: 'endpoint',
    key: 'svc/api/n1/d9bdbb325b01',
    record: { ports: { ok: { port: 81, proto: 'tcp' } }, vips: [] },
  });
  if (m.kind === 'endpoint') {
    t.same(Object.keys(m.record.ports), ['ok']);
    t.same(
      m.problems.map((p) => p.label),
      ['weft.port.http', 'weft.prot.x', 'weft.vip'],
    );
  }
});

t.test('malformed inspect output never throws', async (t) => {
  const junk: unknown[] = [
    {},
    { Id: '' },
    { Id: 'x', State: null, Config: null },
    { Id: 'abc', State: { Running: true }, Config: { Labels: { 'weft.service': 'x' } } },
    {
      Id: 'abc',
      State: { Running: true },
      Config: { Labels: { 'weft.service': 'x' } },
      NetworkSettings: { Networks: { a: null, b: { IPAddress: 'nope', GlobalIPv6Address: 7 } } },
    },
  ];
  for (const j of junk) t.doesNotThrow(() => mapContainer(j as InspectInfo, ctx));
  t.match(mapContainer(junk[3] as InspectInfo, ctx), { kind: 'invalid', reason: /no IP address/ });
  t.match(mapContainer(junk[4] as InspectInfo, ctx), { kind: 'invalid', reason: /no IP address/ });
});

t.test(
  'a weft.vip label on an address the VIP guard refuses is a problem; the endpoint stays (issue 12, item 8)',
  async (t) => {
    const { VipGuard } = await import('../lb/vip-guard.js');
    const guard = new VipGuard({ vipCidr: '198.18.0.0/15' }); // web1's 10.99.0.1 is outside it
    const info = fixture('web1');
    const m = mapContainer(info, { ...ctx, checkVip: (v) => guard.check(v)?.message });
    t.equal(m.kind, 'endpoint');
    if (m.kind !== 'endpoint') return;
    t.same(
      m.record.vips.map((v) => v.vip),
      ['web'],
      'the refused binding is left out',
    );
    t.match(m.problems, [{ value: '10.99.0.1:53/udp', reason: /VIP 10\.99\.0\.1 is outside lb\.vipCidr/ }]);
  },
);

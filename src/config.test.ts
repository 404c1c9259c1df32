import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, isHostPort, loadConfig, parseDuration, redacted } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

t.test('defaults need no file, env or flags', async (t) => {
  const { config, sources } = await loadConfig();
  t.equal(config.api.addr, '127.0.0.1');
  t.equal(config.api.port, 8947);
  t.equal(config.gossip.bindPort, 7946);
  t.equal(config.gossip.preset, 'lan');
  t.same(config.gossip.join, []);
  t.equal(sources['api.port'], 'default');
});

t.test('precedence: flags > env > file > defaults', async (t) => {
  const f = file('api:\n  port: 9001\nlog:\n  level: debug\ngossip:\n  preset: wan\n');
  const { config, sources } = await loadConfig({
    file: f,
    env: { WEFT_API_PORT: '9002', WEFT_LOG_LEVEL: 'warn' },
    flags: { 'api-port': '9003' },
  });
  t.equal(config.api.port, 9003);
  t.equal(sources['api.port'], 'flag');
  t.equal(config.log.level, 'warn');
  t.equal(sources['log.level'], 'env');
  t.equal(config.gossip.preset, 'wan');
  t.equal(sources['gossip.preset'], 'file');
  t.equal(sources['gossip.bindPort'], 'default');
});

t.test('WEFT_CONFIG names the file when no --config is given', async (t) => {
  const f = file('node:\n  name: from-env-file\n');
  const { config, file: used } = await loadConfig({ env: { WEFT_CONFIG: f } });
  t.equal(config.node.name, 'from-env-file');
  t.equal(used, f);
});

t.test('values of every type are parsed from strings and from YAML', async (t) => {
  const f = file('gossip:\n  join: ["10.0.0.1:7946", "node-b.example:7946"]\nsupervision:\n  periodMs: 30s\n');
  const { config } = await loadConfig({
    file: f,
    env: { WEFT_GOSSIP_BIND_ADDR: '::1' },
    flags: { 'max-restarts': '7' },
  });
  t.same(config.gossip.join, ['10.0.0.1:7946', 'node-b.example:7946']);
  t.equal(config.supervision.periodMs, 30_000);
  t.equal(config.gossip.bindAddr, '::1');
  t.equal(config.supervision.maxRestarts, 7);
  const fromFlag = await loadConfig({ flags: { join: '127.0.0.2:7946, [::1]:7947' } });
  t.same(fromFlag.config.gossip.join, ['127.0.0.2:7946', '[::1]:7947']);
});

t.test('each error names the key, the value, the source and what is allowed', async (t) => {
  const cases: [Parameters<typeof loadConfig>[0], RegExp][] = [
    [
      { flags: { 'api-port': '99999' } },
      /^api\.port = "99999" \(from --api-port\): must be an integer from 0 to 65535$/,
    ],
    [{ flags: { 'api-port': 'eighty' } }, /^api\.port = "eighty" .*integer/],
    [{ env: { WEFT_API_PORT: '-1' } }, /^api\.port = "-1" \(from WEFT_API_PORT\): must be an integer/],
    [{ flags: { 'api-addr': 'localhost' } }, /^api\.addr = "localhost" .*must be an IPv4 or IPv6 address/],
    [{ flags: { preset: 'fast' } }, /^gossip\.preset = "fast" .*must be one of lan, wan, local/],
    [{ flags: { 'log-level': 'loud' } }, /^log\.level = "loud" .*one of trace, debug/],
    [{ flags: { 'log-format': 'xml' } }, /^log\.format = "xml" .*one of auto, json, pretty/],
    [{ flags: { 'restart-period': '10 parsecs' } }, /^supervision\.periodMs = "10 parsecs" .*a duration/],
    [
      { flags: { 'dns-ttl': '5' } },
      /^dns\.ttl = "5" \(from --dns-ttl\): must be a duration with its unit, such as 500ms, 10s or 2m \(a bare number is refused/,
    ],
    [{ env: { WEFT_DNS_TTL: '30' } }, /^dns\.ttl = "30" \(from WEFT_DNS_TTL\): must be a duration with its unit/],
    [{ flags: { join: 'nohost' } }, /^gossip\.join = "nohost" .*list of host:port/],
    [{ flags: { join: '10.0.0.1:0' } }, /^gossip\.join .*list of host:port/],
    [{ flags: { encrypt: 'c2hvcnQ=' } }, /^gossip\.keys = <redacted> .*base64 32-byte keys/],
    [{ flags: { node: '-bad name' } }, /^node\.name = "-bad name" .*1-63 characters/],
    [{ flags: { label: 'has space' } }, /^gossip\.label = "has space" .*printable ASCII/],
    [{ flags: { 'max-restarts': '1.5' } }, /^supervision\.maxRestarts = "1.5" .*integer from 0 to 1000/],
  ];
  for (const [inputs, re] of cases) {
    const problems = await problemsOf(loadConfig(inputs));
    t.equal(problems.length, 1, JSON.stringify(inputs));
    t.match(problems[0], re);
  }
});

t.test('all problems are reported at once', async (t) => {
  const problems = await problemsOf(
    loadConfig({ flags: { 'api-port': 'x', preset: 'y' }, env: { WEFT_LOG_LEVEL: 'z' } }),
  );
  t.equal(problems.length, 3);
  const err = new ConfigError(problems);
  t.match(err.message, /^3 config problems:\n {2}- /);
});

t.test('file errors: unreadable, not YAML, wrong shape, unknown keys, wrong types', async (t) => {
  t.match(
    (await problemsOf(loadConfig({ file: join(dir, 'missing.yaml') })))[0],
    /missing\.yaml: cannot be read \(ENOENT\)/,
  );
  t.match((await problemsOf(loadConfig({ file: file('api:\n  port: [1\n') })))[0], /line \d+: not valid YAML/);
  t.match((await problemsOf(loadConfig({ file: file('- a\n- b\n') })))[0], /must be a mapping of sections/);
  t.match((await problemsOf(loadConfig({ file: file('api: 8947\n') })))[0], /api must be a mapping of keys/);
  t.match(
    (await problemsOf(loadConfig({ file: file('api:\n  Port: 1\n') })))[0],
    /unknown key api\.Port \(did you mean api\.port\?\)/,
  );
  t.match((await problemsOf(loadConfig({ file: file('dns:\n  port: 53\n') })))[0], /unknown key dns\.port$/);
  t.match((await problemsOf(loadConfig({ file: file('api:\n  port: 1\n  port: 2\n') })))[0], /not valid YAML/);
  t.match(
    (await problemsOf(loadConfig({ file: file('gossip:\n  join: 7946\n') })))[0],
    /^gossip\.join = 7946 \(in .*\): must be a list of host:port/,
  );
  t.match((await problemsOf(loadConfig({ file: file('log:\n  level: [info]\n') })))[0], /^log\.level = \["info"\]/);
});

t.test('an empty file is the defaults', async (t) => {
  const { config } = await loadConfig({ file: file('') });
  t.equal(config.api.port, 8947);
});

t.test('helpers', async (t) => {
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('2m'), 120_000);
  // A number without a unit is ambiguous (issue 14: --dns-ttl 5 gave TTL 0): refused, 0 aside.
  t.equal(parseDuration(250), undefined);
  t.equal(parseDuration('5'), undefined);
  t.equal(parseDuration('5.5'), undefined);
  t.equal(parseDuration('0'), 0);
  t.equal(parseDuration(0), 0);
  t.equal(parseDuration('-1s'), undefined);
  t.equal(parseDuration(Infinity), undefined);
  t.ok(isHostPort('127.0.0.1:7946'));
  t.ok(isHostPort('[fe80::1]:7946'));
  t.notOk(isHostPort('[nothex]:7946'));
  t.notOk(isHostPort('a:65536'));
  const key = Buffer.alloc(32, 7).toString('base64');
  const { config } = await loadConfig({ flags: { encrypt: key } });
  t.same(config.gossip.keys, [key]);
  t.same(redacted(config).gossip.keys, ['<redacted>']);
  t.same(config.gossip.keys, [key], 'redacted() leaves the original alone');
});

// Issue 14 (service files share this reader, src/yaml-text.ts): a hostile config file is a
// config problem, never a crash, a hang or seconds of CPU.
t.test('hostile config files: alias bomb, FIFO, deep nesting, services.list', async (t) => {
  let bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n';
  for (let i = 0, prev = 'a'; i < 9; prev = `b${i}`, i++)
    bomb += `b${i}: &b${i} [${Array.from({ length: 9 }, () => `*${prev}`).join(',')}]\n`;
  t.match((await problemsOf(loadConfig({ file: file(bomb) })))[0], /not usable YAML \(Excessive alias count/);
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  t.match((await problemsOf(loadConfig({ file: fifo })))[0], /fifo\.yaml: is not a regular file/);
  const started = performance.now();
  t.match(
    (await problemsOf(loadConfig({ file: file('log: ' + '['.repeat(100_000)) })))[0],
    /line 1: nested deeper than 32 levels/,
  );
  t.ok(performance.now() - started < 1_000, 'refused before the parser spends seconds on it');
  const { config } = await loadConfig({ file: file('services:\n  list:\n    - service: web\n  dir: /x\n') });
  t.same(config.services, { list: [{ service: 'web' }], dir: '/x' });
  t.match(
    (await problemsOf(loadConfig({ file: file('services:\n  list: [web]\n') })))[0],
    /services.list = \["web"\].*must be a list of service definitions/,
  );
});

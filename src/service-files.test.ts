// Service definition files (src/service-files.ts): the API's validator, named problems, and
// hostile files (huge, deep, alias bombs, FIFOs, symlink loops) refused quickly by name.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServiceDefs, planServiceSync, type ServiceDef } from './service-files.js';
import { YAML_LIMITS } from './yaml-text.js';
import type { EndpointRecord } from '../records/schema.js';

function dirWith(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-svcfiles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const load = (dir: string, list: unknown[] = []) =>
  loadServiceDefs({ list, configFile: '/etc/weft/weft.yaml', dir, node: 'n1', nodeAddr: '127.0.0.1' });

t.test('files and the config list become definitions, checked as API bodies', async (t) => {
  const dir = dirWith(t, {
    'web.yaml': 'service: web\nid: web-1\nports: {http: 8080/tcp}\ntags: [primary]\nchecks: [{tcp: ":8080"}]\n',
    'db.json': JSON.stringify([
      { service: 'db', id: 'db-1' },
      { service: 'db', id: 'db-2', addrs: ['127.0.0.2'] },
    ]),
    '.web.yaml.swp': 'not yaml: [',
    'README.md': 'ignored',
  });
  const { defs, problems } = await load(dir, [{ service: 'cache' }]);
  t.same(problems, []);
  t.same(
    defs.map((d) => [d.key, d.file]),
    [
      ['svc/cache/n1/cache', '/etc/weft/weft.yaml'],
      ['svc/db/n1/db-1', join(dir, 'db.json')],
      ['svc/db/n1/db-2', join(dir, 'db.json')],
      ['svc/web/n1/web-1', join(dir, 'web.yaml')],
    ],
  );
  const web = defs.find((d) => d.id === 'web-1')!.rec;
  t.match(web, {
    source: 'api',
    addrs: ['127.0.0.1'],
    ports: { http: { port: 8080, proto: 'tcp' } },
    tags: ['primary'],
  });
  t.match(web.checks, [{ kind: 'tcp', status: 'critical' }]);
});

t.test('bad definitions are named by file and field', async (t) => {
  const dir = dirWith(t, {
    'a.yaml': 'service: web\nport: {http: 8080}\n',
    'b.yaml': '42\n',
    'c.yaml': 'service: web\nid: x\n',
    'd.yaml': '- service: db\n  id: x\n- service: web\n  id: x\n',
    'e.yaml': 'service: web\nservice: web\n',
  });
  const { problems } = await load(dir);
  const by = (f: string) => problems.filter((p) => p.file === join(dir, f));
  t.match(by('a.yaml'), [{ reason: 'invalid', message: /unknown field "port"/ }]);
  t.match(by('b.yaml'), [{ reason: 'invalid', message: /must be a service/ }]);
  t.same(by('c.yaml'), [], 'the first definition of an id is not the duplicate');
  t.match(by('d.yaml'), [
    { reason: 'duplicate', message: /service 2: id x of service web is also defined in .*c\.yaml/ },
  ]);
  t.match(by('e.yaml'), [{ reason: 'yaml', message: /line 2: not valid YAML \(DUPLICATE_KEY/ }]);
  t.match((await load('', [{ service: 'web', tag: 'a' }])).problems, [
    { file: '/etc/weft/weft.yaml', message: /service 1: unknown field "tag"/ },
  ]);
});

t.test('hostile files are refused quickly, by name, without reading them whole', async (t) => {
  let bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n';
  for (let i = 0, prev = 'a'; i < 9; prev = `b${i}`, i++)
    bomb += `b${i}: &b${i} [${Array.from({ length: 9 }, () => `*${prev}`).join(',')}]\n`;
  let block = '';
  for (let i = 0; i < 200; i++) block += `${' '.repeat(i)}a:\n`;
  const dir = dirWith(t, {
    'huge.yaml': `service: web\nmeta: {x: "${'x'.repeat(YAML_LIMITS.maxBytes)}"}\n`,
    'flow.yaml': '['.repeat(100_000) + ']'.repeat(100_000),
    'compact.yaml': '- '.repeat(5000) + 'x\n',
    'block.yaml': block,
    'bomb.yaml': bomb,
  });
  mkdirSync(join(dir, 'dir.yaml'));
  symlinkSync(join(dir, 'loop.yaml'), join(dir, 'loop.yaml'));
  execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
  const started = performance.now();
  const { defs, problems } = await load(dir);
  t.ok(performance.now() - started < 2_000, `refused in ${Math.round(performance.now() - started)}ms`);
  t.same(defs, []);
  const reason = (f: string) => problems.find((p) => p.file === join(dir, f))?.message;
  t.match(reason('huge.yaml'), /bytes; at most 262144/);
  t.match(reason('flow.yaml'), /nested deeper than 32 levels/);
  t.match(reason('compact.yaml'), /indented deeper than 128 columns/);
  t.match(reason('block.yaml'), /line 130: indented deeper than 128 columns/);
  t.match(reason('bomb.yaml'), /alias/i);
  t.match(reason('dir.yaml'), /not a regular file/);
  t.match(reason('loop.yaml'), /symlink loop/);
  t.match(reason('fifo.yaml'), /not a regular file/);
});

t.test('a missing directory is a problem, not an empty set', async (t) => {
  t.match((await load('/nonexistent/weft-services')).problems, [{ reason: 'read', message: /ENOENT/ }]);
});

const rec = (extra: Partial<EndpointRecord> = {}): EndpointRecord => ({
  service: 'web',
  addrs: ['127.0.0.1'],
  ports: {},
  health: 'none',
  vips: [],
  source: 'api',
  ...extra,
});
const def = (key: string, file = '/s/a.yaml'): ServiceDef => ({
  file,
  id: key.split('/')[3]!,
  key,
  rec: rec({ file }),
});

t.test('the plan touches only the files own records', async (t) => {
  const mine = new Map<string, EndpointRecord>([
    ['svc/web/n1/kept', rec({ file: '/s/a.yaml' })],
    ['svc/web/n1/gone', rec({ file: '/s/old.yaml' })],
    ['svc/web/n1/api', rec()],
    ['svc/web/n1/dock', rec({ source: 'docker' })],
  ]);
  const plan = planServiceSync([def('svc/web/n1/kept'), def('svc/web/n1/new')], mine);
  t.same(
    plan.put.map((d) => d.key),
    ['svc/web/n1/kept', 'svc/web/n1/new'],
  );
  t.same(plan.remove, ['svc/web/n1/gone'], 'API and Docker records are never removed');
  t.same(plan.conflicts, []);
  const clash = planServiceSync([def('svc/web/n1/api'), def('svc/web/n1/dock')], mine);
  t.same(clash.put, []);
  t.match(clash.conflicts, [
    { reason: 'conflict', message: /id api of service web is already registered here through the API/ },
    { reason: 'conflict', message: /through Docker/ },
  ]);
});

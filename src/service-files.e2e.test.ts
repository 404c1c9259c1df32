// Service definitions as files (issue 14) in a real agent: services.list and services.dir
// answer in DNS; an edit plus SIGHUP (or weft reload) moves DNS with it; a bad file is
// reported by name and changes nothing; an API registration survives every reload.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvesA, runCli, startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

const dnsFollows = (a: AgentProcess, name: string, want: string[]) =>
  eventually(
    `${name} resolves to ${want.join(', ') || 'nothing'}`,
    async () => JSON.stringify(await resolvesA(a, `${name}.svc.weft.internal`)) === JSON.stringify(want),
    20_000,
  );

t.test('services from the config and a directory, reloaded all or nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-svcfiles-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const svcDir = join(dir, 'services.d');
  const config = join(dir, 'weft.yaml');
  writeFileSync(config, `services:\n  dir: ${svcDir}\n  list:\n    - {service: cache, addrs: [127.0.0.12]}\n`);
  mkdirSync(svcDir);
  const file = (name: string, text: string) => writeFileSync(join(svcDir, name), text);
  file('web.yaml', 'service: web\nid: w1\naddrs: [127.0.0.11]\nports: {http: 8080/tcp}\n');

  const a = await startAgent(t, ['--node', 'f1', '--bind', '127.0.0.1', '--config', config]);
  const api = { WEFT_API: a.ready.api! };
  await dnsFollows(a, 'web', ['127.0.0.11']);
  await dnsFollows(a, 'cache', ['127.0.0.12']);

  const post = await fetch(`${a.ready.api}/v1/services`, {
    method: 'POST',
    body: JSON.stringify({ service: 'web', id: 'a1', addrs: ['127.0.0.13'] }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(post.status, 201, 'an API registration next to the files');
  const clash = await fetch(`${a.ready.api}/v1/services`, {
    method: 'POST',
    body: JSON.stringify({ service: 'web', id: 'w1', addrs: ['127.0.0.99'] }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(clash.status, 409, 'the API does not overwrite what a file defines');
  t.match(((await clash.json()) as { error: string }).error, /defined in .*web\.yaml; change or remove it there/);

  // Edit + SIGHUP: DNS follows; the API's endpoint stays.
  file('web.yaml', 'service: web\nid: w1\naddrs: [127.0.0.21]\n');
  file('db.json', JSON.stringify([{ service: 'db', id: 'd1', addrs: ['127.0.0.22'] }]));
  a.proc.kill('SIGHUP');
  await dnsFollows(a, 'web', ['127.0.0.13', '127.0.0.21']);
  await dnsFollows(a, 'db', ['127.0.0.22']);

  // A bad file: reported by name (log, answer, metric); nothing changes, not even the good edit.
  file('web.yaml', 'service: web\nid: w1\naddrs: [127.0.0.31]\n');
  file('bad.yaml', 'service: api2\ncheck: [{tcp: ":80"}]\n');
  const bad = await runCli(['reload'], api);
  t.not(bad.code, 0, 'weft reload fails');
  t.match(bad.stderr, /bad\.yaml: unknown field "check"/);
  await a.waitForLine((l) => /bad\.yaml: unknown field "check"/.test(String(l.msg)) && l.level === 50);
  const metrics = await (await fetch(`${a.ready.api}/metrics`)).text();
  t.match(metrics, /weft_service_files_rejected_total\{reason="invalid"\} 1/);
  t.same(await resolvesA(a, 'web.svc.weft.internal'), ['127.0.0.13', '127.0.0.21'], 'the running set stays');
  t.same(await resolvesA(a, 'db.svc.weft.internal'), ['127.0.0.22']);

  // Fixed, and db removed: the reload applies the edit and deregisters db; the API's stays.
  unlinkSync(join(svcDir, 'bad.yaml'));
  unlinkSync(join(svcDir, 'db.json'));
  const good = await runCli(['reload'], api);
  t.equal(good.code, 0, good.stderr);
  t.match(good.stdout, /services: 0 added, 1 updated, 1 removed/);
  await dnsFollows(a, 'web', ['127.0.0.13', '127.0.0.31']);
  await dnsFollows(a, 'db', []);
  await dnsFollows(a, 'cache', ['127.0.0.12']);

  const ls = await runCli(['service', 'ls'], api);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, new RegExp(`web +f1 +w1 .*${join(svcDir, 'web.yaml').replace(/[.]/g, '\\.')}`));
  t.match(ls.stdout, /web +f1 +a1 .* api /);
  t.match(ls.stdout, new RegExp(`cache +f1 +cache .*${config.replace(/[.]/g, '\\.')}`));
});

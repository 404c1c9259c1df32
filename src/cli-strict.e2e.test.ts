// The CLI refuses what it cannot mean and says what happened (issue 14, "CLI strictness").
import { spawn } from 'node:child_process';
import t from 'tap';
import { freePort } from '../test/helpers/free-port.js';
import { CLI, runCli, startAgent } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

t.test('no command exits 2 with the help; version is a command; members --state is checked', async (t) => {
  const none = await runCli([]);
  t.equal(none.code, 2, '`weft` alone is a usage error');
  t.match(none.stderr, /Usage: weft <command>/, 'and prints the help');
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^\s+version\s+print the version/m, 'the help lists version');
  const v = await runCli(['version']);
  t.equal(v.code, 0);
  t.match(v.stdout.trim(), /^\d+\.\d+\.\d+/);
  const bogus = await runCli(['members', '--state', 'bogus'], { WEFT_API: 'http://127.0.0.1:9' });
  t.equal(bogus.code, 2, 'members --state bogus: exit 2, before asking any agent');
  t.match(bogus.stderr, /--state takes alive, suspect, dead, left, not "bogus"/);
  const svc = await runCli(['service', '--help']);
  t.match(svc.stdout, /'web:80->8080'/, 'the -> example is quoted');
  t.notMatch(svc.stdout.replace(/'[^'\s]*'/g, ''), /->/, 'no unquoted -> left');
});

t.test('vip add of an existing VIP says so', async (t) => {
  const a = await startAgent(t, ['--node', 'cs1', '--bind', '127.0.9.2']);
  const env = { WEFT_API: a.ready.api! };
  // The agent's proxy listens on the VIP's port: one free on every address, not 5432.
  const vip = `db:${await freePort()}`;
  const first = await runCli(['vip', 'add', vip], env);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, new RegExp(`^declared ${vip}/tcp`));
  const again = await runCli(['vip', 'add', vip], env);
  t.equal(again.code, 0);
  t.match(again.stdout, `${vip}/tcp was already declared: unchanged`);
});

t.test('kv watch survives an agent restart and prints each change once', async (t) => {
  const dir = t.testdir();
  const host = '127.0.9.3';
  const port = await freePort(host);
  const args = ['--node', 'cs2', '--bind', host, '--data-dir', dir, '--api-addr', host, '--api-port', String(port)];
  const a = await startAgent(t, args);
  const env = { WEFT_API: a.ready.api! };
  t.equal((await runCli(['kv', 'put', 'w/a', '1'], env)).code, 0);

  const watch = spawn(process.execPath, [CLI, 'kv', 'watch', 'w/'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void watch.kill('SIGKILL'));
  let out = '';
  let err = '';
  watch.stdout.on('data', (d) => (out += d));
  watch.stderr.on('data', (d) => (err += d));
  await eventually('the watch prints w/a', () => out.includes('put w/a 1'), 20_000);

  a.proc.kill('SIGTERM');
  await a.exited;
  await eventually('the watch says the agent closed it', () => /closed the watch.*reconnecting/.test(err), 20_000);
  t.equal(watch.exitCode, null, 'and keeps running');

  const b = await startAgent(t, args);
  t.equal(b.ready.api, a.ready.api, 'the agent is back at the same address');
  await eventually('the watch reconnects', () => /reconnected/.test(err), 20_000);
  t.equal((await runCli(['kv', 'put', 'w/b', '2'], env)).code, 0);
  t.equal((await runCli(['kv', 'del', 'w/a'], env)).code, 0);
  await eventually(
    'the watch prints the changes after the restart',
    () => out.includes('put w/b 2') && out.includes('del w/a'),
    20_000,
  );
  t.same(
    out.trim().split('\n'),
    ['put w/a 1', 'put w/b 2', 'del w/a'],
    'each change once: w/a is not printed again on the resync',
  );
});

t.test('Docker unreachable: /v1/health and weft status say so, not "ok"', async (t) => {
  const socket = `${t.testdir()}/no-docker.sock`;
  const a = await startAgent(t, [
    '--node',
    'cs3',
    '--bind',
    '127.0.9.4',
    '--docker',
    'true',
    '--docker-socket',
    socket,
  ]);
  const res = await fetch(`${a.ready.api}/v1/health`);
  const body = (await res.json()) as { status: string; registrar?: string };
  t.equal(res.status, 503, 'health is not 200');
  t.equal(body.status, 'degraded');
  t.match(body.registrar, `Docker unreachable at ${socket}`);
  const st = await runCli(['status'], { WEFT_API: a.ready.api! });
  t.equal(st.code, 0, st.stderr);
  t.match(st.stdout, new RegExp(`docker: UNREACHABLE at ${socket}`));
  const plain = await startAgent(t, ['--node', 'cs4', '--bind', '127.0.9.5']);
  t.same(
    await (await fetch(`${plain.ready.api}/v1/health`)).json(),
    { status: 'ok' },
    'with the registrar off, health is ok',
  );
});

t.test('service register, re-register (replaces, logged) and deregister are logged once at info', async (t) => {
  const a = await startAgent(t, ['--node', 'cs5', '--bind', '127.0.9.6']);
  const env = { WEFT_API: a.ready.api! };
  const vport = await freePort(); // the VIPs' port, where the agent's proxy listens
  const reg = await runCli(
    ['service', 'register', 'web', '--id', 'w1', '--port', 'http=8080', '--vip', `web:${vport}->8080`],
    env,
  );
  t.equal(reg.code, 0, reg.stderr);
  await a.waitForLine((l) => l.msg === 'registered service endpoint web/w1 at 127.0.9.6');
  const again = await runCli(['service', 'register', 'web', '--id', 'w1', '--port', 'metrics=9100'], env);
  t.match(
    again.stdout,
    /^replaced web\/w1: now at 127\.0\.9\.6, with only the ports and VIPs given/,
    'the CLI says it replaced',
  );
  const line = await a.waitForLine(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('re-registered service endpoint web/w1'),
  );
  t.match(
    line,
    {
      level: 30,
      before: { ports: { http: { port: 8080 } }, vips: [`web:${vport}/tcp->8080`] },
      after: { ports: { metrics: { port: 9100 } }, vips: [] },
    },
    'the log shows what was replaced',
  );
  t.equal((await runCli(['service', 'register', 'web', '--id', 'w1', '--port', 'metrics=9100'], env)).code, 0);
  t.equal((await runCli(['service', 'deregister', 'web', 'w1'], env)).code, 0);
  await a.waitForLine((l) => l.msg === 'deregistered service endpoint web/w1');
  t.equal(
    a.lines.filter((l) => typeof l.msg === 'string' && /registered service endpoint web\/w1/.test(l.msg)).length,
    3,
    'one line each: the same registration again logs nothing',
  );

  // A VIP without ->PORT goes to the single named port, as for Docker labels.
  const post = (body: unknown) =>
    fetch(`${a.ready.api}/v1/services`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  const one = (await (await post({ service: 'api', ports: { http: '8080' }, vips: [`api:${vport}`] })).json()) as {
    endpoint: { vips: { targetPort: number }[] };
  };
  t.equal(one.endpoint.vips[0]!.targetPort, 8080, 'api:PORT with the one named port http=8080 goes to 8080');
  const two = await post({ service: 'api2', ports: { http: '8080', admin: '9000' }, vips: ['api2:80'] });
  t.equal(two.status, 400, 'two named ports and neither 80: refused');
  t.match(
    ((await two.json()) as { error: string }).error,
    /pick one of http \(8080\), admin \(9000\); write api2:80->PORT/,
  );
});

t.test('tls ca/cert create make the folder they are told to write to (0700)', async (t) => {
  const { mkdtempSync, rmSync, statSync, readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const base = mkdtempSync(join(tmpdir(), 'weft-tls-dir-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const ca = await runCli(['tls', 'ca', 'create', '--dir', join(base, 'ca')]);
  t.equal(ca.code, 0, ca.stderr);
  t.equal(statSync(join(base, 'ca')).mode & 0o777, 0o700);
  const cert = await runCli([
    'tls',
    'cert',
    'create',
    '--node',
    'n1',
    '--dir',
    join(base, 'nodes/n1'),
    '--ca',
    join(base, 'ca/weft-ca.pem'),
    '--ca-key',
    join(base, 'ca/weft-ca-key.pem'),
  ]);
  t.equal(cert.code, 0, cert.stderr);
  t.equal(readdirSync(join(base, 'nodes/n1')).length, 2, 'a certificate and its key');
});

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { HERMETIC_AGENT_FLAGS, runCli, startAgent } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-e2e-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('agent serves /v1/health, /v1/status and /metrics, reloads on SIGHUP, exits 0 on SIGTERM', async (t) => {
  const cfg = join(dir, 'agent.yaml');
  const keyA = Buffer.alloc(32, 1).toString('base64');
  const keyB = Buffer.alloc(32, 2).toString('base64');
  writeFileSync(cfg, `log:\n  level: info\ngossip:\n  keys: [${keyA}]\n`);
  const a = await startAgent(t, ['--config', cfg, '--bind-port', '0', '--node', 'e2e-1']);
  const api = a.ready.api!;
  t.match(api, /^http:\/\/127\.0\.0\.1:\d+$/, 'ready line names the API address');

  const health = await fetch(`${api}/v1/health`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });

  const status = (await (await fetch(`${api}/v1/status`)).json()) as {
    node: string;
    components: { id: string; state: string }[];
  };
  t.equal(status.node, 'e2e-1');
  t.ok(status.components.some((c) => c.id === 'api' && c.state === 'running'));

  const metrics = await (await fetch(`${api}/metrics`)).text();
  t.match(metrics, /weft_api_requests_total\{route="\/v1\/health",status="200"\} 1/);
  t.match(metrics, /weft_process_resident_memory_bytes/);

  const notFound = await fetch(`${api}/v1/nothing`);
  t.equal(notFound.status, 404);
  t.match(await notFound.json(), { error: /no such endpoint/ });

  const cli = await runCli(['status', '--api', api]);
  t.equal(cli.code, 0);
  t.match(cli.stdout, /node e2e-1/);
  t.match(cli.stdout, /api\s+running\s+0/);

  writeFileSync(cfg, `log:\n  level: debug\ngossip:\n  preset: wan\n  keys: [${keyB}, ${keyA}]\n`);
  a.proc.kill('SIGHUP');
  const reloaded = await a.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('SIGHUP: config reloaded'));
  t.same(reloaded.applied, ['gossip.keys', 'log.level'], 'log level and a key rotation apply live');
  t.same(reloaded.needRestart, ['gossip.preset'], 'timings are not changed under a running agent');

  // The rotation is real: a node that only knows the new key can now join.
  const b = await startAgent(t, ['--bind-port', '0', '--node', 'e2e-2', '--encrypt', keyB, '--join', a.ready.gossip!]);
  await eventually(
    'e2e-2 joined with the rotated key',
    async () => ((await (await fetch(`${api}/v1/members`)).json()) as { members: unknown[] }).members.length === 2,
    10_000,
  );
  b.proc.kill('SIGTERM');
  t.equal(await b.exited, 0);

  writeFileSync(cfg, 'log:\n  level: [\n');
  a.proc.kill('SIGHUP');
  await a.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('SIGHUP: config not reloaded'));
  t.equal((await fetch(`${api}/v1/health`)).status, 200, 'a bad reload leaves the agent serving');

  a.proc.kill('SIGTERM');
  t.equal(await a.exited, 0, 'SIGTERM exits 0');
  t.ok(
    a.lines.some((l) => l.msg === 'stopped'),
    'the stop was logged',
  );
});

t.test('SIGINT is a graceful stop too', async (t) => {
  const a = await startAgent(t, ['--bind-port', '0']);
  a.proc.kill('SIGINT');
  t.equal(await a.exited, 0);
});

t.test('a port in use: the agent says so in one line and exits 1', async (t) => {
  const first = await startAgent(t, ['--bind-port', '0']);
  const port = new URL(first.ready.api!).port;
  const second = await runCli(['agent', '--log-format', 'json', ...HERMETIC_AGENT_FLAGS, '--api-port', port]);
  t.equal(second.code, 1);
  const fatal = second.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .find((l) => l.level === 60);
  t.match(fatal?.msg, new RegExp(`^could not start: API address 127\\.0\\.0\\.1:${port} is in use`));
  t.notMatch(second.stdout + second.stderr, /\n\s+at /, 'no stack trace');
  first.proc.kill('SIGTERM');
  t.equal(await first.exited, 0);
});

t.test('config errors exit 2 with the key, value and what is allowed, and no stack trace', async (t) => {
  const r = await runCli(['agent', ...HERMETIC_AGENT_FLAGS, '--api-port', 'x', '--preset', 'fast']);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(
    r.stderr,
    /^weft: config error: 2 config problems:\n {2}- gossip\.preset = "fast" \(from --preset\): must be one of lan, wan, local\n {2}- api\.port = "x" \(from --api-port\): must be an integer from 0 to 65535\n$/,
  );
  const clash = await runCli([
    'agent',
    ...HERMETIC_AGENT_FLAGS,
    '--probe-interval',
    '100ms',
    '--probe-timeout',
    '200ms',
  ]);
  t.equal(clash.code, 2, 'timings that clash are a config error, not a crash loop');
  t.equal(
    clash.stderr,
    'weft: config error: gossip timings: gossip.probeTimeout must be > 0 and < gossip.probeInterval\n',
  );
  const env = await runCli(['agent', ...HERMETIC_AGENT_FLAGS], { WEFT_LOG_LEVEL: 'chatty' });
  t.equal(env.code, 2);
  t.match(env.stderr, /log\.level = "chatty" \(from WEFT_LOG_LEVEL\)/);
});

t.test('--print-config shows the effective config and where each value came from', async (t) => {
  const r = await runCli(['agent', '--print-config', '--api-port', '9999'], {
    WEFT_GOSSIP_PRESET: 'wan',
    WEFT_GOSSIP_KEYS: Buffer.alloc(32).toString('base64'),
  });
  t.equal(r.code, 0);
  t.match(r.stdout, /port: 9999 {2}# flag/);
  t.match(r.stdout, /preset: wan {2}# env/);
  t.match(r.stdout, /bindPort: 7946 {2}# default/);
  t.match(r.stdout, /<redacted>/);
  t.notMatch(r.stdout, /AAAAAAAA/, 'keys are never printed');
});

t.test('a list flag given twice keeps both values (--join a --join b)', async (t) => {
  const r = await runCli([
    'agent',
    '--print-config',
    '--join',
    '127.0.0.2:7946',
    '--join',
    '127.0.0.3:7946,127.0.0.4:7946',
  ]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /join: {2}# flag\n {4}- 127\.0\.0\.2:7946\n {4}- 127\.0\.0\.3:7946\n {4}- 127\.0\.0\.4:7946\n/);
});

t.test('help and usage errors', async (t) => {
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Commands:\n {2}agent/);
  const agentHelp = await runCli(['agent', '--help']);
  t.equal(agentHelp.code, 0);
  t.match(agentHelp.stdout, /--api-port .*\n.*env WEFT_API_PORT; file api\.port/);
  const unknown = await runCli(['frobnicate']);
  t.equal(unknown.code, 2);
  t.equal(unknown.stderr, 'weft: unknown command "frobnicate"; run weft --help to see the commands\n');
  const badFlag = await runCli(['status', '--nope']);
  t.equal(badFlag.code, 2);
  t.match(badFlag.stderr, /^weft: status: unknown flag --nope; run weft status --help\n$/);
  const free = await freePort();
  const down = await runCli(['status', '--api', `http://127.0.0.1:${free}`]);
  t.equal(down.code, 1);
  t.equal(
    down.stderr,
    `weft: cannot reach the agent at http://127.0.0.1:${free} (ECONNREFUSED): is \`weft agent\` running? Point elsewhere with --api\n`,
  );
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

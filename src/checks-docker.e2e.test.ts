// Script checks inside containers, with a real Docker engine: weft.check.script on a
// container runs by Docker exec inside it (not on this host), exit 0 passing, 1 warning,
// other critical, and a critical endpoint leaves DNS; a script that hangs past its timeout
// is killed, so hung runs do not pile up; hostile label values are refused and counted.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { resolvesA, startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { dockerSkip, startDocker } from '../test/helpers/docker.js';
import { eventually } from '../test/helpers/eventually.js';

const SUBNET = '10.232.41';

interface Services {
  services: { service: string; endpoints: { id: string; checks?: { status: string; output: string }[] }[] }[];
}
const checkOf = async (a: AgentProcess, id: string) =>
  ((await (await fetch(`${a.ready.api}/v1/services`)).json()) as Services).services
    .flatMap((s) => s.endpoints)
    .find((e) => e.id === id)?.checks?.[0];
const metric = async (a: AgentProcess, re: RegExp) =>
  Number(re.exec(await (await fetch(`${a.ready.api}/metrics`)).text())?.[1] ?? 0);

/** Processes on this host whose command line is exactly `argv`. */
function processesRunning(argv: string[]): number {
  const want = argv.join('\0') + '\0';
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want) n++;
    } catch {
      // gone
    }
  }
  return n;
}

t.test('weft.check.script runs inside the container', { skip: dockerSkip() }, async (t) => {
  const engine = await startDocker(t);
  await engine.run(['network', 'create', '--subnet', `${SUBNET}.0/24`, 'checknet']);
  const agent = await startAgent(t, [
    '--node',
    'dx1',
    '--docker',
    'true',
    '--docker-socket',
    engine.socket,
    '--checks-allow-container-scripts',
    'true',
  ]);
  const run = (name: string, ip: string, labels: Record<string, string>) =>
    engine.run([
      'run',
      '-d',
      '--init',
      '--name',
      name,
      '--network',
      'checknet',
      '--ip',
      `${SUBNET}.${ip}`,
      ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      engine.image,
      'sleep',
      '600',
    ]);
  // The exit code comes from a file inside the container: no file, exit 0.
  const web = (
    await run('web1', '10', {
      'weft.service': 'web',
      // /tmp/code exists only inside the container: the script reads the container's files.
      'weft.check.script':
        '["sh", "-c", "echo code=$(cat /tmp/code 2>/dev/null || echo 0); exit $(cat /tmp/code 2>/dev/null || echo 0)"]',
      'weft.check.interval': '2s',
      'weft.check.timeout': '2s',
      'weft.check.rise': '1',
      'weft.check.fall': '1',
    })
  ).slice(0, 12);
  const setCode = (code: number) => engine.run(['exec', 'web1', 'sh', '-c', `echo ${code} > /tmp/code`]);
  const dns = async () => (await resolvesA(agent, 'web.svc.weft.internal')).join(',');

  await eventually('passing, and in DNS', async () => (await dns()) === `${SUBNET}.10`, 30_000, 100);
  t.match(await checkOf(agent, web), { status: 'passing', output: 'code=0' });
  await setCode(1);
  await eventually('warning', async () => (await checkOf(agent, web))?.status === 'warning', 30_000, 100);
  t.match(await checkOf(agent, web), { output: 'code=1' });
  t.equal(await dns(), `${SUBNET}.10`, 'a warning is still served');
  await setCode(2);
  await eventually('critical, and out of DNS', async () => (await dns()) === '', 30_000, 100);
  t.match(await checkOf(agent, web), { status: 'critical', output: 'code=2' });
  await setCode(0);
  await eventually('passing again, back in DNS', async () => (await dns()) === `${SUBNET}.10`, 30_000, 100);

  // A script that hangs: killed at each timeout, so its runs never pile up.
  const hang = (
    await run('hang1', '11', {
      'weft.service': 'hang',
      'weft.check.script': 'sleep 31',
      'weft.check.interval': '1s',
      'weft.check.timeout': '300ms',
      'weft.check.fall': '1',
    })
  ).slice(0, 12);
  let said = '';
  const killed = async () => {
    said = (await checkOf(agent, hang))?.output ?? '';
    return /timed out after 300 ms and was killed/.test(said);
  };
  await eventually('timed out and killed', killed, 30_000, 100).catch((err: Error) => {
    throw new Error(`${err.message}; the check said: ${said}`);
  });
  const timeouts = () => metric(agent, /weft_check_runs_total\{kind="script",status="critical"\} (\d+)/);
  const t0 = await timeouts();
  await eventually('three more timed-out runs', async () => (await timeouts()) >= t0 + 3, 30_000, 100);
  t.ok(processesRunning(['sleep', '31']) <= 1, 'the hung runs were killed: at most the current one is alive');
  t.same(await resolvesA(agent, 'hang.svc.weft.internal'), [], 'critical: not in DNS');
});

t.test('hostile weft.check.script labels are refused and counted', { skip: dockerSkip() }, async (t) => {
  const engine = await startDocker(t);
  const agent = await startAgent(t, [
    '--node',
    'dx2',
    '--docker',
    'true',
    '--docker-socket',
    engine.socket,
    '--checks-allow-container-scripts',
    'true',
  ]);
  const hostile = ['touch /tmp/weft-pwned; echo ok', 'x'.repeat(20_000), 'check $(id)'];
  for (const [i, script] of hostile.entries())
    await engine.run([
      'run',
      '-d',
      '--init',
      '--network',
      'host',
      '--name',
      `bad${i}`,
      '--label',
      'weft.service=bad',
      '--label',
      `weft.check.script=${script}`,
      engine.image,
      'sleep',
      '600',
    ]);
  const errors = () => metric(agent, /weft_registrar_label_errors_total (\d+)/);
  await eventually('all three counted', async () => (await errors()) >= 3, 30_000, 100);
  const line = await agent.waitForLine((l) => /weft\.check\.script.*is for a shell/.test(String(l.msg)), 10_000);
  t.ok(line, 'the log says why');
  const services = (await (await fetch(`${agent.ready.api}/v1/services`)).json()) as Services;
  t.notOk(
    services.services.some((s) => s.service === 'bad'),
    'none registered: an endpoint whose health cannot be known is not served',
  );
});

// `npm run bench -- hosts`: weft on hosts with Docker (issue 15). Needs root, dockerd,
// busybox-static, dpkg. Everything runs in network namespaces made here (three hosts, each
// with its own dockerd and `weft agent --overlay true`, test/helpers/docker-hosts.ts).
//   1. container_to_container_ms: from `docker run --network weft` on host 1 until a
//      container on host 3, already polling, reads the new container's name from
//      <name>.svc.weft.internal:7000 (Docker's embedded DNS -> the agent on host 3's
//      gateway -> the record host 1's registrar wrote). p50 of BENCH_HOSTS_TRIALS (3).
//      reachable_after_docker_run_ms: the part after `docker run -d` returned (weft's share;
//      dockerd on vfs takes the rest).
//   2. overlay_container_throughput_ratio: bytes piped with busybox nc from a container on
//      host 1 to one on host 2 through the weft network, over the same from host 1 to host
//      2 on the underlay; both clients and servers started the same way (nsenter into the
//      container's or the host's namespace), BENCH_HOSTS_MB (256) MiB each, interleaved
//      BENCH_HOSTS_ROUNDS (3), medians of MiB/s.
//   3. package_install_s: `dpkg --root` install of the .deb scripts/package.mjs builds (not
//      timed) into a throwaway root, then its agent started to the ready line.
// --smoke: only the package install (three dockerds on vfs take minutes on a loaded 2-core
// machine); the Docker figures are null and `smoke` says so.
// Progress on stderr; the table on stdout; the last line is one JSON object.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent, type Teardown } from '../test/helpers/agent-process.js';
import { DockerHosts, SERVICE_PORT, ask, runService } from '../test/helpers/docker-hosts.js';
import { sh } from '../test/helpers/hosts.js';
import { staticBusybox, type DockerEngine } from '../test/helpers/docker.js';
import { envNumber, missingCommands, printAbsent, SMOKE } from './_env.js';

const TRIALS = envNumber('BENCH_HOSTS_TRIALS', 3, 1);
const ROUNDS = envNumber('BENCH_HOSTS_ROUNDS', 3, 1);
const MIB = envNumber('BENCH_HOSTS_MB', 256, 16);
const BOUND_MS = 120_000;
const repo = fileURLToPath(new URL('../..', import.meta.url));
const progress = (l: string) => console.error(`  ${l}`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Teardowns run in reverse at the end, as tap would. */
class Cleanup implements Teardown {
  private readonly fns: (() => void | Promise<void>)[] = [];
  teardown(fn: () => void | Promise<void>): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.fns.reverse()) await Promise.resolve(fn()).catch((e: Error) => progress(e.message));
  }
}

/** Seconds from `dpkg -i` into a throwaway root to the packaged agent's ready line. */
async function packageInstall(c: Cleanup): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-deb-'));
  c.teardown(() => rmSync(dir, { recursive: true, force: true }));
  progress('building the .deb (not timed)');
  execFileSync(process.execPath, [join(repo, 'scripts/package.mjs')], {
    cwd: repo,
    env: { ...process.env, WEFT_PACKAGE_OUT: join(dir, 'out'), WEFT_DEB_COMPRESS: 'gzip', WEFT_DEB_LEVEL: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const root = join(dir, 'root');
  mkdirSync(join(root, 'var/lib/dpkg/updates'), { recursive: true });
  mkdirSync(join(root, 'var/lib/dpkg/info'));
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  const t0 = performance.now();
  const r = spawnSync(
    'dpkg',
    ['--root', root, '--force-script-chrootless', '--force-depends', '--force-not-root', '-i', join(dir, 'out', `weft_${version}_${arch}.deb`)],
    { encoding: 'utf8' },
  ); // prettier-ignore
  if (r.status !== 0) throw new Error(`dpkg -i: ${r.stderr}`);
  await startAgent(c, ['--node', 'pkg1', '--bind', '127.0.0.1', '--data-dir', join(dir, 'data')], {}, 60_000, [
    join(root, 'usr/bin/weft'),
  ]);
  return (performance.now() - t0) / 1000;
}

/** The first time `check` holds, polled every 20 ms (ms since t0), or NaN after BOUND_MS. */
async function firstTime(t0: number, check: () => Promise<boolean>): Promise<number> {
  while (performance.now() - t0 < BOUND_MS) {
    if (await check()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return NaN;
}

/**
 * ms from `docker run` on host 1 until host 3's container reads the new one by name; with
 * where the time went: `docker run` returned, the record answered at host 3's agent.
 */
async function containerToContainer(f: DockerHosts, gateway: string, trial: number) {
  const [a, , c] = f.engines as [DockerEngine, DockerEngine, DockerEngine];
  const h3 = f.hosts.hosts[2]!;
  const name = `new${trial}`;
  const poll = `until [ "$(nc ${name}.svc.weft.internal ${SERVICE_PORT} 2>/dev/null)" = ${name} ]; do sleep 0.02; done`;
  const waiter = c.run(['exec', 'web-c', 'timeout', '120', 'sh', '-c', poll], { timeoutMs: 130_000 });
  await new Promise((r) => setTimeout(r, 1500)); // the poller runs before the clock starts
  const t0 = performance.now();
  const dig = () =>
    sh('ip', ['netns', 'exec', h3.ns, 'dig', '+short', '+tries=1', '+time=1', `@${h3.underlay}`, '-p', '8600', `${name}.svc.weft.internal`]).catch(() => ''); // prettier-ignore
  const inDns = firstTime(t0, async () => (await dig()).trim() !== '');
  await runService(a, name, gateway);
  const run = performance.now() - t0;
  await waiter;
  return { total: performance.now() - t0, run, dns: await inDns };
}

/** Runs `sh -c script` in a network namespace given as nsenter's --net argument. */
const inNet = (net: string, script: string) =>
  new Promise<number>((resolve) => {
    const p = spawn('nsenter', [`--net=${net}`, 'sh', '-c', script], { stdio: 'ignore' });
    p.on('exit', (code) => resolve(code ?? 1));
  });

/** MiB/s of MIB MiB piped by busybox nc from namespace `from` to a server at `addr` in namespace `to`. */
async function pipeRate(from: string, to: string, addr: string, port: number): Promise<number> {
  const bb = staticBusybox()!;
  const server = inNet(to, `${bb} nc -l -p ${port} > /dev/null`);
  const send = `dd if=/dev/zero bs=64k count=${MIB * 16} 2>/dev/null | ${bb} nc ${addr} ${port}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    const t0 = performance.now();
    // Refused until the server listens: retried, and only the run that connected is timed.
    if ((await inNet(from, send)) === 0) {
      const s = (performance.now() - t0) / 1000;
      await server;
      return MIB / s;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no connection to ${addr}:${port}`);
}

async function throughput(f: DockerHosts, ips: string[]): Promise<{ overlay: number; underlay: number }> {
  const pid = async (e: DockerEngine, n: string) =>
    `/proc/${await e.run(['inspect', '-f', '{{.State.Pid}}', n])}/ns/net`;
  const [ca, cb] = [await pid(f.engines[0]!, 'web-a'), await pid(f.engines[1]!, 'web-b')];
  const [h1, h2] = f.hosts.hosts as [(typeof f.hosts.hosts)[0], (typeof f.hosts.hosts)[0]];
  const over: number[] = [];
  const under: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    over.push(await pipeRate(ca, cb, ips[1]!, 7101 + r));
    under.push(await pipeRate(`/run/netns/${h1.ns}`, `/run/netns/${h2.ns}`, h2.underlay, 7201 + r));
    progress(`round ${r + 1}: overlay ${over.at(-1)!.toFixed(0)} MiB/s, underlay ${under.at(-1)!.toFixed(0)} MiB/s`);
  }
  return { overlay: median(over), underlay: median(under) };
}

async function dockerFigures(c: Cleanup) {
  progress('three hosts, each with dockerd and an agent');
  const f = await DockerHosts.create(c);
  const nets = await f.networks(BOUND_MS);
  const ips = await Promise.all(f.engines.map((e, i) => runService(e, `web-${'abc'[i]}`, nets[i]!.gateway)));
  const start = performance.now();
  while ((await ask(f.engines[0]!, 'web-a', `web-c.svc.weft.internal`)) !== 'web-c') {
    if (performance.now() - start > BOUND_MS) throw new Error(f.explain().join('\n'));
    await new Promise((r) => setTimeout(r, 200));
  }
  const c2c: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const r = await containerToContainer(f, nets[0]!.gateway, i);
    c2c.push(r.total);
    after.push(r.total - r.run);
    progress(
      `container to container, trial ${i + 1}: ${r.total.toFixed(0)} ms (docker run returned at ${r.run.toFixed(0)}, host 3's DNS had it at ${r.dns.toFixed(0)})`,
    );
  }
  return { c2c: median(c2c), afterRun: median(after), ...(await throughput(f, ips)) };
}

async function main(): Promise<void> {
  // The package install needs dpkg only; the Docker part root and the rest.
  const need = missingCommands(['dpkg', 'dpkg-deb']);
  if (!SMOKE) {
    need.push(...missingCommands(['dockerd', 'docker', 'nsenter', 'ip', 'nft', 'iptables']));
    if (process.getuid?.() !== 0) need.unshift('root');
    if (!staticBusybox()) need.push('busybox-static');
  }
  const nulls = {
    container_to_container_ms: null,
    reachable_after_docker_run_ms: null,
    overlay_container_throughput_ratio: null,
    package_install_s: null,
  };
  if (need.length) return printAbsent(need, nulls);
  const c = new Cleanup();
  try {
    const pkg = await packageInstall(c);
    progress(`package install to ready: ${pkg.toFixed(2)} s`);
    const d = SMOKE ? undefined : await dockerFigures(c);
    const figures = {
      container_to_container_ms: d ? Math.round(d.c2c) : null,
      // weft's share: dockerd on vfs takes most of the above before `docker run` returns.
      reachable_after_docker_run_ms: d ? Math.round(d.afterRun) : null,
      overlay_container_throughput_ratio: d ? Number((d.overlay / d.underlay).toFixed(3)) : null,
      package_install_s: Number(pkg.toFixed(2)),
    };
    const rows: [string, string, string][] = [
      ['container_to_container_ms', String(figures.container_to_container_ms ?? '-'), 'aim <= 1000'],
      ['  reachable_after_docker_run_ms', String(figures.reachable_after_docker_run_ms ?? '-'), ''],
      ['overlay_container_throughput_ratio', String(figures.overlay_container_throughput_ratio ?? '-'), 'aim >= 0.9'],
      ['  overlay / underlay MiB/s', d ? `${d.overlay.toFixed(0)} / ${d.underlay.toFixed(0)}` : '-', ''],
      ['package_install_s', String(figures.package_install_s), 'aim <= 5'],
    ];
    console.log('hosts (3 host namespaces, dockerd + weft agent each, busybox containers on --network weft)');
    for (const [k, v, aim] of rows) console.log(`  ${k.padEnd(36)}  ${v.padStart(10)}  ${aim}`.trimEnd());
    console.log(JSON.stringify({ ...figures, ...(SMOKE ? { smoke: 'package install only' } : {}) }));
  } finally {
    await c.run();
  }
}

await main();

// Soak: a dev cluster of 8 real agents, one network namespace each, under `weft chaos`
// (drop, partition, pause, kill) while clients write; after the chaos stops, the
// cluster's invariants are checked through the HTTP API and DNS:
//   1. every node sees every node alive;
//   3. the replicas are identical, and every acknowledged durable write is everywhere;
//   4. every node gives the same DNS answer for every service name;
//   5. every node computes the same VIP addresses and backend sets;
//   and the overlay: no two nodes lease one subnet, and every node programs all others.
// SOAK_S sets the chaos length (default 20 s in CI; longer for a real soak).
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { CLI } from '../test/helpers/agent-process.js';
import { skipUnless } from '../test/helpers/system.js';
import { eventually } from '../test/helpers/eventually.js';
import { cpuMs } from '../bench/proc-cpu.js';

const N = 8;
const SUBNET = 97;
const SOAK_S = Number(process.env.SOAK_S ?? 20);
const FAST = [
  '--probe-interval',
  '400ms',
  '--probe-timeout',
  '200ms',
  '--gossip-interval',
  '100ms',
  '--suspicion-mult',
  '3',
  '--heal-interval',
  '2s',
  '--overlay',
  'true',
];
const addr = (i: number) => `10.${SUBNET}.0.${i}`;
const api = (i: number) => `http://${addr(i)}:8947`;
const CONVERGE_BOUND_MS = 45_000;

/** The test dir goes with the test; a failure keeps the agents' logs for reading. */
function keepLogs(dir: string): void {
  const kept = mkdtempSync(join(tmpdir(), 'weft-soak-'));
  for (const f of readdirSync(dir)) if (f.endsWith('.log')) copyFileSync(join(dir, f), join(kept, f));
  console.error(`# the dev cluster's logs are kept in ${kept}`);
}

/** Each agent's last membership events (its log is JSON, one line each): what a failure report needs. */
function memberLines(dir: string, n: number, last = 12): string[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `dev-${i + 1}`;
    let lines: string[];
    try {
      lines = readFileSync(join(dir, `${name}.log`), 'utf8').split('\n');
    } catch {
      return [`${name}: no log`];
    }
    const events = lines
      .map((l) => {
        try {
          return JSON.parse(l) as { time?: number; msg?: string; incarnation?: number };
        } catch {
          return undefined;
        }
      })
      .filter((e) => e?.msg?.startsWith('member ') || e?.msg?.includes('refut'))
      .slice(-last)
      .map((e) => `  ${new Date(e!.time ?? 0).toISOString().slice(11, 23)} ${e!.msg} @${e!.incarnation ?? ''}`);
    return [`${name}'s last membership events:`, ...events];
  }).flat();
}

/**
 * Each agent's process as the kernel sees it (state, CPU time over one second) and as
 * dev-cluster does (paused): tells an agent left stopped from one spinning or blocked.
 */
async function processLines(dir: string): Promise<string[]> {
  let nodes: { name: string; pid: number | null; paused: boolean }[];
  try {
    nodes = (JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { nodes: typeof nodes }).nodes;
  } catch (e) {
    return [`no cluster.json: ${(e as Error).message}`];
  }
  const stat = (pid: number | null) => {
    if (pid === null) return undefined;
    try {
      const state = /^State:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return { state, ms: cpuMs(pid) };
    } catch {
      return undefined;
    }
  };
  const before = nodes.map((n) => stat(n.pid));
  await new Promise((r) => setTimeout(r, 1000));
  return nodes.map((n, i) => {
    const [a, b] = [before[i], stat(n.pid)];
    return a && b
      ? `${n.name}: pid ${n.pid}, state ${b.state}, ${b.ms - a.ms} ms of CPU in 1 s, paused for dev-cluster: ${n.paused}`
      : `${n.name}: pid ${n.pid}, no such process`;
  });
}

async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return r.ok ? ((await r.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

t.test(
  '8 agents under chaos keep their invariants',
  { skip: skipUnless({ root: true, commands: ['ip', 'nft'] }) },
  async (t) => {
    const dir = t.testdir();
    const dc = spawn(
      process.execPath,
      [CLI, 'dev-cluster', '--nodes', String(N), '--netns', '--subnet', String(SUBNET), '--dir', dir, '--', ...FAST],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let dcOut = '';
    dc.stdout.on('data', (d) => (dcOut += d));
    dc.stderr.on('data', (d) => (dcOut += d));
    const dcExited = new Promise<number | null>((r) => dc.on('exit', (code) => r(code)));
    t.teardown(async () => {
      if (dc.exitCode === null) {
        dc.kill('SIGINT');
        await Promise.race([dcExited, new Promise((r) => setTimeout(r, 20_000))]);
        if (dc.exitCode === null) dc.kill('SIGKILL');
      }
    });
    await eventually(
      'the dev cluster is up',
      () => dcOut.includes('Ctrl-C stops them all') || dc.exitCode !== null,
      90_000,
      100,
    );
    t.equal(dc.exitCode, null, 'dev-cluster runs', { output: dcOut.slice(-400) });
    await eventually(
      '8 agents see 8 alive',
      async () => {
        const views = await Promise.all(
          Array.from({ length: N }, (_, i) => getJson<{ members: { state: string }[] }>(`${api(i + 1)}/v1/members`)),
        );
        return views.every((v) => v?.members.filter((m) => m.state === 'alive').length === N);
      },
      30_000,
      200,
    );

    for (let i = 1; i <= 4; i++) {
      const r = await fetch(`${api(i)}/v1/services`, {
        method: 'POST',
        body: JSON.stringify({
          service: 'web',
          id: `w${i}`,
          addrs: [`10.250.0.${i}`],
          vips: ['web:80->8080', 'dns-vip:53/udp'],
        }),
        headers: { 'content-type': 'application/json' },
      });
      t.equal(r.status, 201);
    }

    const policy = join(dir, 'chaos.yaml');
    writeFileSync(
      policy,
      [
        'seed: 4242',
        `for: ${SOAK_S}s`,
        'policies:',
        '  - { mode: drop, probability: 1, interval: 3s, duration: 2s, loss: 0.5 }',
        '  - { mode: partition, probability: 1, interval: 5s, duration: 3s, targets: { count: 2 } }',
        '  - { mode: pause, probability: 1, interval: 4s, duration: 1500ms }',
        '  - { mode: kill, probability: 1, interval: 6s, duration: 2s }',
        '',
      ].join('\n'),
    );
    const chaos = spawn(process.execPath, [CLI, 'chaos', '--cluster', dir, '--policy', policy], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (chaos.exitCode === null) chaos.kill('SIGINT');
    });
    let chaosOut = '';
    let chaosErr = '';
    chaos.stdout.on('data', (d) => (chaosOut += d));
    chaos.stderr.on('data', (d) => (chaosErr += d));
    const chaosExited = new Promise<number | null>((r) => chaos.on('exit', (code) => r(code)));

    // Clients write durable keys at random nodes while the chaos runs; only 200s count as acknowledged.
    const acked = new Map<string, number>();
    let attempts = 0;
    let done = false;
    void chaosExited.then(() => (done = true));
    let rnd = 99;
    while (!done) {
      rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
      const i = 1 + (rnd % N);
      const key = `soak/${attempts++}`;
      try {
        const r = await fetch(`${api(i)}/v1/kv/${key}?durable=true`, {
          method: 'PUT',
          body: JSON.stringify({ at: i }),
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(1000),
        });
        if (r.status === 200) acked.set(key, i);
      } catch {
        // that node is paused, killed or cut off: not acknowledged
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    const events = chaosOut
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; mode: string; error?: string });
    const failed = events.filter((e) => e.event.endsWith('_failed'));
    t.equal(await chaosExited, 0, 'chaos ran and healed everything', { stderr: chaosErr, failed });
    for (const mode of ['drop', 'partition', 'pause', 'kill']) {
      const injected = events.filter((e) => e.event === 'inject' && e.mode === mode).length;
      t.ok(injected > 0, `${injected} ${mode} faults injected`);
    }
    t.equal(
      events.filter((e) => e.event === 'inject').length,
      events.filter((e) => e.event === 'heal').length,
      'every fault was healed',
    );
    t.ok(acked.size > 10, `${acked.size} of ${attempts} durable writes were acknowledged during the chaos`);

    // 1. Membership: everyone alive everywhere.
    const t0 = Date.now();
    let notAlive: string[] = [];
    await eventually(
      'all 8 alive at all 8',
      async () => {
        const views = await Promise.all(
          Array.from({ length: N }, (_, i) =>
            getJson<{ members: { name: string; state: string; incarnation?: number }[] }>(`${api(i + 1)}/v1/members`),
          ),
        );
        notAlive = views.flatMap((v, i) =>
          v === undefined
            ? [`dev-${i + 1}: no answer`]
            : v.members.length !== N || v.members.some((m) => m.state !== 'alive')
              ? [`dev-${i + 1} sees ${v.members.map((m) => `${m.name}=${m.state}/${m.incarnation}`).join(' ')}`]
              : [],
        );
        return notAlive.length === 0;
      },
      CONVERGE_BOUND_MS,
      250,
    ).catch(async (err: Error) => {
      keepLogs(dir);
      const faults = chaosOut.trim().split('\n').slice(-24);
      throw new Error(
        [
          err.message,
          ...notAlive,
          ...(await processLines(dir)),
          'the last faults:',
          ...faults,
          `dev-cluster's output: ${dcOut.slice(-1500)}`,
          ...memberLines(dir, N),
        ].join('\n'),
      );
    });
    t.pass(`membership agreed on 8 alive ${Date.now() - t0} ms after the chaos ended`);

    // 3. Store: identical replicas holding every acknowledged durable write.
    type Entries = { entries: { key: string; owner: string; value: unknown }[] };
    await eventually(
      'identical replicas',
      async () => {
        const views = await Promise.all(
          Array.from({ length: N }, (_, i) => getJson<Entries>(`${api(i + 1)}/v1/store?view=all`)),
        );
        return views.every((v) => v !== undefined && JSON.stringify(v) === JSON.stringify(views[0]));
      },
      CONVERGE_BOUND_MS,
      250,
    );
    const view = (await getJson<Entries>(`${api(1)}/v1/store?view=all`))!;
    const keys = new Set(view.entries.map((e) => e.key));
    const lost = [...acked.keys()].filter((k) => !keys.has(`kv/${k}`));
    t.same(lost, [], `all ${acked.size} acknowledged durable writes are on every replica`);
    t.pass(`replicas identical ${Date.now() - t0} ms after the chaos ended (${view.entries.length} records)`);

    // 4. DNS: the same answer at every node.
    const answers = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const r = new Resolver({ timeout: 1000, tries: 2 });
        r.setServers([`${addr(i + 1)}:8600`]);
        return (await r.resolve4('web.svc.weft.internal')).sort().join(',');
      }),
    );
    t.same(new Set(answers).size, 1, 'every node answers web.svc the same');
    t.equal(
      answers[0],
      '10.250.0.1,10.250.0.2,10.250.0.3,10.250.0.4',
      'with all four endpoints (their nodes are alive again)',
    );

    // 5. VIPs: the same addresses and backends at every node (each programs its own nft table).
    type Vips = {
      datapath: string;
      vips: { vip: string; addr?: string; port: number; proto: string; backends: string[] }[];
    };
    const vipViews = await Promise.all(Array.from({ length: N }, (_, i) => getJson<Vips>(`${api(i + 1)}/v1/vips`)));
    const vipKey = (v: Vips | undefined) =>
      JSON.stringify(v?.vips.map((x) => [x.vip, x.addr, x.port, x.proto, [...x.backends].sort()]).sort());
    t.equal(new Set(vipViews.map(vipKey)).size, 1, 'every node computes the same VIPs and backends');
    t.same(vipViews[0]?.vips.map((v) => `${v.vip}:${v.port}/${v.proto} ${v.backends.length}`).sort(), [
      'dns-vip:53/udp 4',
      'web:80/tcp 4',
    ]);
    t.equal(vipViews[0]?.datapath, 'nft', 'in namespaces, as root, the kernel datapath');

    // Overlay: distinct leases, and every node programs the 7 others.
    type Overlay = { lease: { subnet: string } | null; peers: { node: string }[] };
    await eventually(
      'every overlay programs 7 peers',
      async () => {
        const views = await Promise.all(
          Array.from({ length: N }, (_, i) => getJson<Overlay>(`${api(i + 1)}/v1/overlay`)),
        );
        return views.every((v) => v?.peers.length === N - 1);
      },
      20_000,
      250,
    );
    const overlays = await Promise.all(
      Array.from({ length: N }, (_, i) => getJson<Overlay>(`${api(i + 1)}/v1/overlay`)),
    );
    const subnets = overlays.map((o) => o?.lease?.subnet);
    t.equal(new Set(subnets).size, N, `${N} distinct subnets: ${subnets.join(' ')}`);

    dc.kill('SIGINT');
    t.equal(await dcExited, 0, 'the dev cluster stops cleanly');
  },
);

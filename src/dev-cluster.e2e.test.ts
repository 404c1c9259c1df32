import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { controlNode, devPorts, openCluster } from './chaos/cluster.js';
import { CLI, freePortOffset } from '../test/helpers/agent-process.js';
import { skipUnless } from '../test/helpers/system.js';
import { eventually } from '../test/helpers/eventually.js';

interface Member {
  name: string;
  state: string;
}

function startDevCluster(t: { teardown(fn: () => void): void }, args: string[]) {
  // hermetic: the lint reads each startDevCluster call's own argv.
  const proc = spawn(process.execPath, [CLI, 'dev-cluster', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const up = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('Ctrl-C stops them all')) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    void exited.then((code) => (clearInterval(timer), reject(new Error(`dev-cluster exited ${code}: ${out}`))));
  });
  return { proc, exited, up, output: () => out };
}

t.test('dev-cluster on loopback: 4 agents form one cluster; SIGINT stops them all', async (t) => {
  const VIP_PORT = 8080;
  const addrs = ['127.91.0.1', '127.91.0.2', '127.91.0.3', '127.91.0.4'];
  const offset = await freePortOffset(addrs, [...Object.values(devPorts(0)), VIP_PORT]);
  const { api } = devPorts(offset);
  const dc = startDevCluster(t, ['--nodes', '4', '--subnet', '91', '--port-offset', String(offset)]);
  await dc.up;
  t.match(dc.output(), `dev-1    gossip 127.91.0.1:${7946 + offset}   dns 127.91.0.1:${8600 + offset}`);
  const formed = await eventually(
    'every agent sees 4 alive members',
    async () => {
      const views = await Promise.all(
        [1, 2, 3, 4].map(
          async (i) =>
            ((await (await fetch(`http://127.91.0.${i}:${api}/v1/members`)).json()) as { members: Member[] }).members,
        ),
      );
      return views.every((v) => v.filter((m) => m.state === 'alive').length === 4);
    },
    15_000,
    200,
  );
  t.ok(formed >= 0, 'every agent sees 4 alive members');
  // Each agent proxies VIPs on its own loopback addresses, so one VIP listens at all four.
  const reg = await fetch(`http://127.91.0.1:${api}/v1/services`, {
    method: 'POST',
    body: JSON.stringify({ service: 'web', addrs: ['127.91.0.1'], vips: [`web:${VIP_PORT + offset}`] }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(reg.status, 201);
  type Vips = { vips: { vip: string; listen?: string; error?: string }[] };
  await eventually(
    'the VIP listens at every agent',
    async () => {
      const views = await Promise.all(
        [1, 2, 3, 4].map(async (i) =>
          ((await (await fetch(`http://127.91.0.${i}:${api}/v1/vips`)).json()) as Vips).vips.find(
            (v) => v.vip === 'web',
          ),
        ),
      );
      return views.every((v) => v?.listen !== undefined && v.error === undefined);
    },
    10_000,
    200,
  );
  t.pass('one VIP, four proxies, no address clash');
  dc.proc.kill('SIGINT');
  t.equal(await dc.exited, 0, 'exits 0 on Ctrl-C');
  const gone = await fetch(`http://127.91.0.1:${api}/v1/health`).then(
    () => false,
    () => true,
  );
  t.ok(gone, 'the agents are stopped');
});

t.test('dev-cluster rejects bad flags', async (t) => {
  // hermetic: refused before any agent starts.
  const r = execFileSyncStatus(['dev-cluster', '--nodes', '0']);
  t.equal(r.status, 2);
  t.match(r.stderr, /--nodes must be an integer from 1 to 250/);
  for (const bad of ['-1', '56589', '1.5', 'x']) {
    const o = execFileSyncStatus(['dev-cluster', `--port-offset=${bad}`]);
    t.equal(o.status, 2, `--port-offset ${bad}`);
    t.match(o.stderr, /--port-offset must be an integer from 0 to 56588/);
  }
  const both = execFileSyncStatus(['dev-cluster', '--netns', '--port-offset', '5']);
  t.equal(both.status, 2);
  t.match(both.stderr, /--port-offset is for loopback mode/);
});

t.test(
  'dev-cluster --netns: one namespace per agent, all removed after',
  { skip: skipUnless({ root: true, commands: ['ip'] }) },
  async (t) => {
    const dc = startDevCluster(t, ['--nodes', '3', '--netns', '--subnet', '93']);
    t.teardown(() => {
      for (const ns of ['weft-dev-93-1', 'weft-dev-93-2', 'weft-dev-93-3', 'weft-dev-93-hub']) {
        // (the root leg weft-dev-93 goes with the hub namespace)
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
    });
    await dc.up;
    const formed = await eventually(
      'agents in namespaces form one cluster',
      () => {
        const out = execFileSync(
          'ip',
          [
            'netns',
            'exec',
            'weft-dev-93-2',
            process.execPath,
            CLI,
            'members',
            '--json',
            '--api',
            'http://10.93.0.2:8947',
          ],
          { encoding: 'utf8' },
        );
        return (JSON.parse(out) as Member[]).filter((m) => m.state === 'alive').length === 3;
      },
      15_000,
      200,
    );
    t.ok(formed >= 0, 'agents in separate namespaces form one cluster over the bridge');
    const fromHere = ((await (await fetch('http://10.93.0.3:8947/v1/members')).json()) as { members: Member[] })
      .members;
    t.equal(fromHere.length, 3, "the agents' APIs are reachable from the root namespace through the hub");
    dc.proc.kill('SIGINT');
    t.equal(await dc.exited, 0);
    t.notMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /weft-dev-93/, 'namespaces removed');
    t.notMatch(execFileSync('ip', ['link', 'show'], { encoding: 'utf8' }), /weft-dev-93/, 'the root leg is removed');
  },
);

t.test(
  'dev-cluster --netns whose directory is removed under it still stops cleanly and removes its namespaces',
  { skip: skipUnless({ root: true, commands: ['ip'] }) },
  async (t) => {
    // A test's temporary directory goes before the test's own teardown stops the cluster.
    const dir = mkdtempSync('/tmp/weft-dc-');
    const dc = startDevCluster(t, ['--nodes', '2', '--netns', '--subnet', '92', '--dir', dir]);
    t.teardown(() => {
      for (const ns of ['weft-dev-92-1', 'weft-dev-92-2', 'weft-dev-92-hub']) {
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        } catch {
          // removed by dev-cluster, as it should be
        }
      }
    });
    await dc.up;
    rmSync(dir, { recursive: true, force: true });
    dc.proc.kill('SIGINT');
    t.equal(await dc.exited, 0, 'stopped without a crash');
    t.match(dc.output(), /cannot write .*cluster\.json/, 'and said what it could not write');
    t.notMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /weft-dev-92/, 'namespaces removed');
    t.notMatch(execFileSync('ip', ['link', 'show'], { encoding: 'utf8' }), /weft-dev-92/, 'the root leg is removed');
  },
);

/** A directory for a dev cluster, removed after the test, and whose agents are killed after it. */
function clusterDir(t: { teardown(fn: () => void): void }): string {
  // Short: the control socket's path must fit a unix socket address (108 bytes); tap's test dirs do not.
  const dir = mkdtempSync('/tmp/weft-dc-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Registered before the dev-cluster's own teardown, so it runs after it: a dev-cluster killed
  // by SIGKILL (a failed test) leaves its agents running.
  t.teardown(() => {
    try {
      for (const n of (JSON.parse(readFileSync(`${dir}/cluster.json`, 'utf8')) as { nodes: { pid: number | null }[] })
        .nodes)
        if (n.pid) process.kill(n.pid, 'SIGKILL');
    } catch {
      // no cluster.json: a clean stop removed it
    }
  });
  return dir;
}

t.test("an agent that cannot start: dev-cluster says the agent's own reason, and what to do", async (t) => {
  const offset = await freePortOffset(['127.96.0.1', '127.96.0.2']);
  const gossip = devPorts(offset).gossip;
  // Another program on dev-1's gossip port (on its address only: the test's own port).
  const holder = createSocket('udp4');
  await new Promise<void>((r) => holder.bind(gossip, '127.96.0.1', r));
  t.teardown(() => holder.close());
  const dir = clusterDir(t);
  const devCluster = (...agentFlags: string[]) =>
    execFileSyncStatus([
      'dev-cluster',
      '--nodes',
      '2',
      '--subnet',
      '96',
      '--port-offset',
      `${offset}`,
      '--dir',
      dir,
      '--',
      ...agentFlags,
    ]);
  const taken = devCluster();
  t.equal(taken.status, 1);
  t.match(
    taken.stderr,
    `dev-1 exited (1) before it was ready: gossip port 127.96.0.1:${gossip} is in use: another program holds it on every address; add --port-offset K`,
  );
  t.notMatch(taken.stderr, /restart it with/, 'no restart advice: the cluster never came up');
  // A flag the agent refuses (before it binds anything): its own message, not just an exit status.
  const bad = devCluster('--no-such-flag');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /dev-1 exited \(2\) before it was ready: .*--no-such-flag/);
});

t.test('dev-cluster says when an agent dies, with its last log lines, and restarts one node', async (t) => {
  const dir = clusterDir(t);
  const offset = await freePortOffset(['127.94.0.1', '127.94.0.2']);
  const dc = startDevCluster(t, ['--nodes', '2', '--subnet', '94', '--port-offset', String(offset), '--dir', dir]);
  await dc.up;
  const cluster = JSON.parse(readFileSync(`${dir}/cluster.json`, 'utf8')) as { nodes: { name: string; pid: number }[] };
  process.kill(cluster.nodes[1]!.pid, 'SIGKILL');
  await eventually(
    'dev-cluster reports the death',
    () => /dev-2 was killed by SIGKILL; the last lines of .*dev-2\.log:\n {2}\| /.test(dc.output()),
    20_000,
  );
  t.match(dc.output(), `restart it with: weft dev-cluster restart dev-2 --dir ${dir}`);
  t.match(dc.output(), /\| \{.*weft agent ready/, "the last lines are the agent's own");
  const r = execFileSyncStatus(['dev-cluster', 'restart', '2', '--dir', dir]);
  t.equal(r.status, 0, r.stderr);
  const back = await fetch(`http://127.94.0.2:${devPorts(offset).api}/v1/health`).then((res) => res.status);
  t.equal(back, 200, 'dev-2 answers again');
  // chaos with a netns-only mode on this loopback cluster: refused before the first roll.
  const chaos = execFileSyncStatus(['chaos', '--cluster', dir, '--mode', 'drop', '--for', '2s']);
  t.equal(chaos.status, 2);
  t.match(chaos.stderr, /^weft: chaos: policies\[0\] \(drop\) needs a dev cluster started with --netns/);
  t.notMatch(chaos.stderr, /policies for/, 'nothing was rolled');
  const bad = execFileSyncStatus(['dev-cluster', 'restart', 'dev-9', '--dir', dir]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /no node "dev-9" .*it has dev-1, dev-2/);
  dc.proc.kill('SIGINT');
  t.equal(await dc.exited, 0);
  t.notMatch(
    dc.output().split('stopping the dev cluster')[1] ?? '',
    /killed|exited with/,
    'a stop by Ctrl-C is no death',
  );
});

t.test(
  'a kill answered means the agent is gone: a start right after it starts the agent again',
  // In namespaces of its own, so no listener elsewhere on this host can hold its ports.
  { skip: skipUnless({ root: true, commands: ['ip'] }) },
  async (t) => {
    const dir = clusterDir(t);
    const dc = startDevCluster(t, ['--nodes', '2', '--netns', '--subnet', '95', '--dir', dir]);
    await dc.up;
    const c = openCluster(dir);
    const before = c.nodes[1]!.pid;
    // What `weft chaos` does for a kill fault and its heal, with no pause between them. A kill
    // answered before the agent had exited made the start a no-op and left the agent dead
    // (seen in the chaos soak in CI, with seconds between them).
    await controlNode(c, 'dev-2', 'kill');
    await controlNode(c, 'dev-2', 'start');
    const after = openCluster(dir).nodes[1]!.pid;
    t.ok(after !== null && after !== before, `dev-2 runs again under a new pid (${before} -> ${after})`);
    const health = await fetch('http://10.95.0.2:8947/v1/health').then(
      (res) => res.status,
      () => 0,
    );
    t.equal(health, 200, 'dev-2 answers again');
    dc.proc.kill('SIGINT');
    t.equal(await dc.exited, 0);
    t.notMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /weft-dev-95/, 'namespaces removed');
  },
);

function execFileSyncStatus(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stderr: '' };
  } catch (e) {
    const err = e as { status: number | null; stderr: Buffer };
    return { status: err.status, stderr: err.stderr.toString() };
  }
}

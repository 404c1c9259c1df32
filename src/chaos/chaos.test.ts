import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChaosPlanner, type Fault } from './planner.js';
import { parsePlan, PolicyError, POLICY_FORMAT, unfitPolicies } from './policy.js';
import {
  devNode,
  devPorts,
  faultRules,
  MAX_DEV_NODES,
  MAX_PORT_OFFSET,
  openCluster,
  type DevCluster,
} from './cluster.js';
import { DEFAULTS as OVERLAY } from '../../overlay/defaults.js';
import { parseIPv4, parsePrefix } from '../../overlay/cidr.js';

const nodes = Array.from({ length: 6 }, (_, i) => ({
  name: `dev-${i + 1}`,
  meta: i < 3 ? '{"user":"zone=a"}' : '{"user":"zone=b"}',
}));

function schedule(seed: number) {
  const plan = parsePlan({
    seed,
    for: '30s',
    policies: [
      { mode: 'kill', probability: 0.5, interval: '2s', duration: '3s' },
      { mode: 'partition', interval: '5s', duration: '2s', targets: { count: 2, meta: 'zone=b' } },
    ],
  });
  const p = new ChaosPlanner(plan);
  const log: string[] = [];
  const active = new Map<number, Fault>();
  for (let now = 0; now <= 31_000; now += 100) {
    const { inject, heal } = p.step(now, nodes);
    for (const f of heal) {
      active.delete(f.id);
      log.push(`${now} heal ${f.id}`);
    }
    for (const f of inject) {
      // No node is in two faults at once.
      const busy = [...active.values()].flatMap((a) => a.targets);
      if (f.targets.some((x) => busy.includes(x))) throw new Error(`fault ${f.id} hits a busy node`);
      active.set(f.id, f);
      log.push(`${now} ${f.mode} ${f.targets.join('+')}${f.others.length ? ` | ${f.others.join('+')}` : ''}`);
    }
  }
  return { log, active };
}

t.test('the planner is deterministic, heals every fault, and keeps to its targets', async (t) => {
  const a = schedule(7);
  t.same(schedule(7).log, a.log, 'same seed, same schedule');
  t.not(schedule(8).log.join('\n'), a.log.join('\n'), 'another seed, another schedule');
  t.equal(a.active.size, 0, 'nothing is left in place at the end');
  const partitions = a.log.filter((l) => l.includes('partition'));
  t.ok(partitions.length >= 4, `${partitions.length} partitions`);
  for (const l of partitions)
    t.match(l, /partition dev-[456](\+dev-[456])? \| /, `only zone=b nodes are cut off: ${l}`);
  const kills = a.log.filter((l) => l.includes(' kill '));
  t.ok(kills.length > 3 && kills.length < 15, `probability 0.5 every 2 s for 30 s: ${kills.length} kills`);
});

t.test('policy problems are reported together, naming the key', async (t) => {
  const e = t.throws(() =>
    parsePlan({ for: 'soon', policies: [{ mode: 'explode', probability: 2, colour: 'red', targets: { count: 0 } }] }),
  ) as PolicyError;
  t.ok(e instanceof PolicyError);
  t.match(e.message, /for "soon"/);
  t.match(e.message, /policies\[0\]\.mode "explode": is one of drop, partition, latency, pause, kill/);
  t.match(e.message, /probability 2/);
  t.match(e.message, /unknown key colour/);
  t.match(e.message, /count is an integer/);
});

t.test('nft rules for drop and partition', async (t) => {
  const c = {
    subnet: 9,
    netns: true,
    nodes: nodes.map((n, i) => ({ name: n.name, addr: `10.9.0.${i + 1}`, ns: `weft-dev-9-${i + 1}` })),
  } as unknown as DevCluster;
  const base = {
    id: 3,
    policy: 0,
    targets: ['dev-1'],
    loss: 0.3,
    delayMs: 0,
    ports: [7946, 7947],
    startMs: 0,
    endMs: 1,
  };
  const drop = faultRules(c, { ...base, mode: 'drop', others: [] });
  t.match(drop, /table inet weft-chaos-3 \{/);
  t.match(drop, /th dport \{ 7946, 7947 \} numgen random mod 100 < 30 drop/);
  const part = faultRules(c, { ...base, mode: 'partition', others: ['dev-5', 'dev-6'] });
  t.match(part, /ip saddr \{ 10\.9\.0\.5, 10\.9\.0\.6 \} drop/);
  t.match(part, /ip daddr \{ 10\.9\.0\.5, 10\.9\.0\.6 \} drop/);
});

t.test('chaos refuses what is not a running dev cluster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-chaos-'));
  t.throws(() => openCluster(dir), /no dev cluster in/, 'no cluster.json');
  writeFileSync(
    join(dir, 'cluster.json'),
    JSON.stringify({ devCluster: process.pid, subnet: 9, netns: true, control: join(dir, 'control.sock'), nodes: [] }),
  );
  t.throws(() => openCluster(dir), /is not running/, 'the pid is not a dev-cluster');
});

// Found in review: a forged subnet string went unescaped into a RegExp, so chaos rules could
// land in a namespace the dev cluster does not own. Each field must be exactly a dev cluster's.
t.test('chaos refuses a cluster.json whose names, addresses or numbers a dev cluster would not write', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-chaos-'));
  // A process that looks like a running dev cluster, so only the file's contents are judged.
  // hermetic: a sleeping node named like a dev cluster; it listens on nothing.
  const fake = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'dev-cluster'], { stdio: 'ignore' });
  t.teardown(() => {
    fake.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const node = (i: number, over: Record<string, unknown> = {}) => ({
    name: `dev-${i}`,
    addr: `10.9.0.${i}`,
    ns: `weft-dev-9-${i}`,
    pid: null,
    paused: false,
    api: `http://10.9.0.${i}:8947`,
    ...over,
  });
  const base = {
    devCluster: fake.pid,
    subnet: 9,
    netns: true,
    control: join(dir, 'control.sock'),
    nodes: [node(1), node(2)],
  };
  const write = (c: unknown) => writeFileSync(join(dir, 'cluster.json'), typeof c === 'string' ? c : JSON.stringify(c));
  write(base);
  t.equal(openCluster(dir).nodes.length, 2, 'the real shape is accepted');
  const loopback = (offset: number, apiPort = 8947 + offset) => ({
    ...base,
    netns: false,
    portOffset: offset,
    nodes: [node(1, { addr: '127.9.0.1', ns: null, api: `http://127.9.0.1:${apiPort}` })],
  });
  write(loopback(20_000));
  t.match(openCluster(dir), { portOffset: 20_000, nodes: [{ api: 'http://127.9.0.1:28947' }] }, 'a port offset');
  const forged: [string, unknown][] = [
    [
      'a subnet that is a RegExp',
      {
        ...base,
        subnet: '9|victim',
        nodes: [node(1, { addr: '10.9|victim.0.1', ns: 'victim-1', api: 'http://10.9|victim.0.1:8947' })],
      },
    ],
    ['a namespace of someone else', { ...base, nodes: [node(1, { ns: 'victim-ns' })] }],
    [
      'an address that injects nft syntax',
      { ...base, nodes: [node(1, { addr: '10.9.0.1 } accept; ip saddr { 1.2.3.4' })] },
    ],
    ['an address outside the subnet', { ...base, nodes: [node(1, { addr: '10.8.0.1' })] }],
    ['a node out of order', { ...base, nodes: [node(2)] }],
    ['a subnet out of range', { ...base, subnet: 300 }],
    ['a pid that is not one', { ...base, nodes: [node(1, { pid: -1 })] }],
    ['an API port that is not the offset one', loopback(20_000, 8947)],
    ['a port offset past the last port', loopback(60_000)],
    ['a port offset in namespaces', { ...base, portOffset: 5 }],
    ['not JSON', '{"devCluster": '],
  ];
  for (const [what, c] of forged) {
    write(c);
    t.throws(() => openCluster(dir), /is not a dev cluster's/, what);
  }
});

t.test(
  'the policy format shown by --help parses; netns modes are refused on a loopback cluster before any roll',
  async (t) => {
    const { parse } = await import('yaml');
    const plan = parsePlan(parse(POLICY_FORMAT));
    t.match(
      plan,
      {
        seed: 7,
        forMs: 60_000,
        policies: [
          { mode: 'drop', probability: 0.5, loss: 0.3, ports: [7946, 7947], targets: { names: ['dev-2'], count: 1 } },
        ],
      },
      'the documented example is a valid policy',
    );
    const mixed = parsePlan({
      policies: [{ mode: 'kill' }, { mode: 'partition' }, { mode: 'pause' }, { mode: 'latency' }],
    });
    t.same(unfitPolicies(mixed, { netns: true }), []);
    const unfit = unfitPolicies(mixed, { netns: false });
    t.equal(unfit.length, 2);
    t.match(unfit[0], /^policies\[1\] \(partition\) needs a dev cluster started with --netns/);
    t.match(unfit[1], /^policies\[3\] \(latency\)/);
  },
);

t.test("a dev cluster's ports at offset 0 are the agent's defaults, as its help names them", async (t) => {
  t.same(devPorts(0), { gossip: 7946, store: 7947, dns: 8600, api: 8947 });
  t.same(devPorts(10_000), { gossip: 17946, store: 17947, dns: 18600, api: 18947 });
  t.equal(devPorts(MAX_PORT_OFFSET).api, 65535, 'the largest offset leaves the highest port a port');
});

t.test('the default overlay CIDR holds no dev-cluster address, whatever its --subnet', async (t) => {
  const cidr = parsePrefix(OVERLAY.cidr)!;
  const inside = (addr: string) => parseIPv4(addr)! >>> (32 - cidr.len) === cidr.base >>> (32 - cidr.len);
  const clashes: string[] = [];
  for (let subnet = 1; subnet <= 254; subnet++) {
    for (const netns of [true, false]) {
      for (const i of [0, MAX_DEV_NODES - 1])
        if (inside(devNode(subnet, netns, i).addr)) clashes.push(devNode(subnet, netns, i).addr);
    }
    if (inside(`10.${subnet}.0.254`)) clashes.push(`10.${subnet}.0.254 (the host's leg)`);
  }
  t.same(clashes, [], `${OVERLAY.cidr} overlaps no dev-cluster address`);
});

// `npm run bench -- overlay`: the overlay's figures (needs root, iproute2; iperf3 for 2).
//   1. Join to reachable: a third host's driver starts; time until its container has a TCP
//      echo from the containers of both other hosts. p50 of BENCH_OVERLAY_TRIALS (5), a
//      fresh set of three host namespaces each trial.
//   2. Throughput: iperf3 TCP, container to container across two hosts, over weft's
//      overlay and over a VXLAN pair configured by hand between the same host namespaces
//      (same MTU, same shape: bridge, VXLAN device, static FDB and neighbour entries),
//      interleaved rounds (BENCH_OVERLAY_ROUNDS, 5), medians; the ratio is weft / by hand.
//      Host to host on the underlay too, so the table shows what VXLAN itself costs here
//      (by hand / underlay) apart from what weft adds (weft / by hand).
//   3. Program 200 peers from empty: a host's store holds 200 peers' leases (one
//      LocalStore per peer); time from OverlayDriver.start to its first pass done (devices,
//      200 routes, neighbours and FDB entries in the kernel). p50 of the trials.
// Everything runs in network namespaces made here; nothing touches the host's network.
// --smoke: 1 trial, 1 round of 1 s, 10 peers; without root and iproute2 the JSON line has
// `absent` and null figures (iperf3 missing: the throughput is null and iperf3 is absent).
// Progress on stderr; the table on stdout; the last line is one JSON object.
import { execFileSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { LocalStore, type LocalChange } from '../crdt-store/local-store.js';
import { OverlayDriver, type OverlayLog } from '../overlay/driver.js';
import { IpAdapter } from '../overlay/ip.js';
import { hostAt, parsePrefix } from '../overlay/cidr.js';
import { decideLease } from '../overlay/lease.js';
import { vtepMac } from '../overlay/desired.js';
import { leaseValue, OVERLAY_PREFIX, readLeases } from '../overlay/records.js';
import { Hosts, sh, type Host } from '../test/helpers/hosts.js';
import { envNumber, printAbsent, SMOKE } from './_env.js';
import { DEFAULTS } from '../overlay/defaults.js';

// Leases in the overlay's default CIDR, which the agents here run with.
const CIDR_HEAD = DEFAULTS.cidr.split('.').slice(0, 2).join('.');

const TRIALS = envNumber('BENCH_OVERLAY_TRIALS', 5, 1);
const ROUNDS = envNumber('BENCH_OVERLAY_ROUNDS', 5, 1);
const IPERF_S = envNumber('BENCH_OVERLAY_IPERF_S', 3, 1);
const PEERS = envNumber('BENCH_OVERLAY_PEERS', 200, 10);
const progress = (l: string) => console.error(`  ${l}`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quiet: OverlayLog = {
  debug() {},
  info() {},
  warn() {},
  error: (o, m) => progress(`error: ${m} ${JSON.stringify(o)}`),
};
const store = (name: string) => new LocalStore({ name, clock: () => Date.now() });
function pipe(from: LocalStore, to: LocalStore): void {
  for (const d of from.documents()) to.applyRemote(d.id, d.epoch, [d.save()]);
  from.observe({ localChange: (c: LocalChange) => void to.applyRemote(c.docId, c.epoch, [c.change]) });
}
const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

if (process.getuid?.() !== 0 || !has('ip') || !has('bridge')) {
  console.error('the overlay bench needs root and iproute2 (ip, bridge)');
  printAbsent(['root and iproute2'], {
    join_to_reachable_ms: null,
    throughput_ratio_vs_manual: null,
    program_200_peers_ms: null,
  });
  process.exit(SMOKE ? 0 : 2);
}

interface Site {
  name: string;
  host: Host;
  store: LocalStore;
  overlay?: OverlayDriver;
}

/** Three hosts, replicated stores, drivers on the first two with a container each; the third's bridge and container pre-made at its predicted subnet. */
async function threeHosts(): Promise<{ f: Hosts; sites: Site[] }> {
  const f = await Hosts.create(3);
  const sites: Site[] = f.hosts.map((host, i) => ({ name: `h${i + 1}`, host, store: store(`h${i + 1}`) }));
  for (const a of sites) for (const b of sites) if (a !== b) pipe(a.store, b.store);
  for (const s of sites) s.store.setAlive(sites.map((x) => x.name));
  return { f, sites };
}

const start = (s: Site, everyMs = 10_000) =>
  OverlayDriver.start({
    store: s.store,
    node: s.name,
    netns: s.host.ns,
    underlay: s.host.underlay,
    log: quiet,
    registry: new Registry(),
    reconcileEveryMs: everyMs,
  });

async function addContainerFor(s: Site, subnet: string) {
  const p = parsePrefix(subnet)!;
  return s.host.addContainer({ bridge: 'weft0', addr: hostAt(p, 2), len: p.len, gateway: hostAt(p, 1), mtu: 1450 });
}

// ------------------------------------------------------------------ 1. join to reachable

async function joinTrial(): Promise<number> {
  const { f, sites } = await threeHosts();
  try {
    const [a, b, c] = sites;
    for (const s of [a, b]) {
      s.overlay = await start(s);
      await addContainerFor(s, s.overlay.status().lease!.subnet);
    }
    // The joiner's subnet is what the lease rule gives it against the store as it is.
    const all = readLeases(c.store.entries(OVERLAY_PREFIX, { view: 'all' })).leases;
    const d = decideLease(
      c.name,
      undefined,
      all,
      { cidr: parsePrefix(DEFAULTS.cidr)!, subnetLen: 24 },
      { addr: c.host.underlay, mac: vtepMac(c.name), vni: 1, port: 4789 },
      Date.now(),
    );
    if (d.kind !== 'claim') throw new Error('no subnet for the joiner');
    // Its container exists before the agent starts (as a container started with the host would).
    await c.host.ip('link', 'add', 'weft0', 'type', 'bridge');
    const cc = await addContainerFor(c, d.record.subnet);
    const targets = [a, b].map((s) => s.host.containers[0].addr);
    const t0 = performance.now();
    c.overlay = await start(c);
    for (;;) {
      const ok = await Promise.all(targets.map((t) => cc.connect(t, 100)));
      if (ok.every(Boolean)) break;
      if (performance.now() - t0 > 15_000) throw new Error('joiner not reachable within 15 s');
    }
    const ms = performance.now() - t0;
    if (c.overlay.status().lease!.subnet !== d.record.subnet)
      throw new Error('the joiner took another subnet than predicted');
    return ms;
  } finally {
    for (const s of sites) await s.overlay?.stop();
    await f.destroy();
  }
}

// ------------------------------------------------------------------ 2. throughput

async function iperf(f: Hosts, from: string, to: string): Promise<number> {
  const out = await sh('ip', ['netns', 'exec', from, 'iperf3', '-c', to, '-t', String(IPERF_S), '-J']);
  const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } } };
  const bps = j.end?.sum_received?.bits_per_second;
  if (!bps) throw new Error(`iperf3 from ${from} to ${to}: no result`);
  void f;
  return bps / 1e9;
}

type Path = 'weft' | 'manual' | 'underlay';
const PATHS: Path[] = ['weft', 'manual', 'underlay'];

async function throughput(): Promise<Record<Path, number[]>> {
  const { f, sites } = await threeHosts();
  try {
    const [a, b] = sites;
    for (const s of [a, b]) {
      s.overlay = await start(s);
      await addContainerFor(s, s.overlay.status().lease!.subnet);
    }
    // By hand, on the same hosts: VNI 99, port 4790, 10.99.<i>.0/24, bridge brm.
    const manual = async (me: Host, i: number, peer: Host, j: number) => {
      const mac = (k: number) => `0e:99:00:00:00:0${k}`;
      const lines = [
        `link add vxm address ${mac(i)} mtu 1450 type vxlan id 99 dstport 4790 local ${me.underlay} dev eth0 nolearning`,
        `addr add 10.99.${i}.0/32 dev vxm`,
        'link set vxm up',
        'link add brm type bridge',
        `addr add 10.99.${i}.1/24 dev brm`,
        'link set brm up',
        `route add 10.99.${j}.0/24 via 10.99.${j}.0 dev vxm onlink`,
        `neigh add 10.99.${j}.0 lladdr ${mac(j)} dev vxm nud permanent`,
      ];
      await sh('ip', ['-n', me.ns, '-batch', '-'], lines.join('\n') + '\n');
      await sh('bridge', ['-n', me.ns, 'fdb', 'add', mac(j), 'dev', 'vxm', 'dst', peer.underlay, 'self', 'permanent']);
      return me.addContainer({
        bridge: 'brm',
        addr: `10.99.${i}.2`,
        len: 24,
        gateway: `10.99.${i}.1`,
        mtu: 1450,
        prober: false,
      });
    };
    const ma = await manual(a.host, 1, b.host, 2);
    const mb = await manual(b.host, 2, a.host, 1);
    const wa = a.host.containers[0];
    const wb = b.host.containers[0];
    for (const ns of [wb.ns, mb.ns, b.host.ns]) f.spawnIn(ns, 'iperf3', ['-s']);
    await new Promise((r) => setTimeout(r, 300));
    if (!(await wa.connect(wb.addr, 2000))) throw new Error('weft path not reachable');
    const ends: Record<Path, [string, string]> = {
      weft: [wa.ns, wb.addr],
      manual: [ma.ns, mb.addr],
      underlay: [a.host.ns, b.host.underlay],
    };
    const out: Record<Path, number[]> = { weft: [], manual: [], underlay: [] };
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate which goes first, so a trend in the machine's load hits every path alike.
      for (const which of [...PATHS.slice(r % 3), ...PATHS.slice(0, r % 3)]) {
        const g = await iperf(f, ...ends[which]);
        out[which].push(g);
        progress(`round ${r + 1}: ${which} ${g.toFixed(2)} Gbit/s`);
      }
    }
    return out;
  } finally {
    for (const s of sites) await s.overlay?.stop();
    await f.destroy();
  }
}

// ------------------------------------------------------------------ 3. program N peers

async function programTrials(): Promise<number[]> {
  const f = await Hosts.create(1);
  try {
    const site: Site = { name: 'self', host: f.hosts[0], store: store('self') };
    const names: string[] = [];
    for (let i = 0; i < PEERS; i++) {
      const name = `peer-${i}`;
      names.push(name);
      const s = store(name);
      s.put(
        `${OVERLAY_PREFIX}${name}`,
        leaseValue({
          subnet: `${CIDR_HEAD}.${i}.0/24`,
          claimedAt: 1,
          vtep: { addr: `192.168.${100 + (i >> 8)}.${(i & 255) + 1}`, mac: vtepMac(name), vni: 1, port: 4789 },
        }),
      );
      pipe(s, site.store);
    }
    site.store.setAlive(names);
    const out: number[] = [];
    for (let k = 0; k < TRIALS; k++) {
      await OverlayDriver.cleanupHost({ netns: site.host.ns });
      const t0 = performance.now();
      const o = await start(site);
      const ms = performance.now() - t0;
      await o.stop();
      const a = await new IpAdapter({ netns: site.host.ns }).read('weft.vx', 'weft0');
      if (a.routes.length !== PEERS || a.fdb.length !== PEERS || a.neigh.filter((n) => n.permanent).length !== PEERS)
        throw new Error(`programmed ${a.routes.length} routes, ${a.fdb.length} fdb entries, not ${PEERS}`);
      out.push(ms);
      progress(`program ${PEERS} peers: ${ms.toFixed(0)} ms`);
    }
    return out;
  } finally {
    await f.destroy();
  }
}

// ------------------------------------------------------------------ run

const t0 = performance.now();
console.error(`join to reachable, ${TRIALS} trials ...`);
const joins: number[] = [];
for (let i = 0; i < TRIALS; i++) {
  joins.push(await joinTrial());
  progress(`trial ${i + 1}: ${joins[i].toFixed(0)} ms`);
}
let tput: Record<Path, number[]> | null = null;
if (has('iperf3')) {
  console.error(`throughput, ${ROUNDS} interleaved rounds of ${IPERF_S} s ...`);
  tput = await throughput();
} else console.error('throughput skipped: iperf3 is not installed (apt-get install iperf3)');
console.error(`program ${PEERS} peers from empty, ${TRIALS} trials ...`);
const programs = await programTrials();

const joinP50 = Math.round(median(joins));
const over = (a: Path, b: Path) => (tput ? Math.round((median(tput[a]) / median(tput[b])) * 1000) / 1000 : null);
const ratio = over('weft', 'manual');
const programP50 = Math.round(median(programs));
const rows: [string, string, string][] = [
  ['join to reachable (3 hosts), p50', `${joinP50} ms`, 'aim <= 2,000 ms'],
  ['  trials', joins.map((x) => x.toFixed(0)).join(', ') + ' ms', ''],
  ['TCP throughput over weft, median', tput ? `${median(tput.weft).toFixed(2)} Gbit/s` : 'n/a', ''],
  ['TCP throughput over VXLAN by hand, median', tput ? `${median(tput.manual).toFixed(2)} Gbit/s` : 'n/a', ''],
  ['  ratio weft / by hand', ratio === null ? 'n/a' : String(ratio), 'aim >= 0.95'],
  ['TCP throughput host to host on the underlay', tput ? `${median(tput.underlay).toFixed(2)} Gbit/s` : 'n/a', ''],
  ['  ratio by hand / underlay (what VXLAN costs)', String(over('manual', 'underlay') ?? 'n/a'), ''],
  ['  ratio weft / underlay', String(over('weft', 'underlay') ?? 'n/a'), ''],
  [`program ${PEERS} peers from empty, p50`, `${programP50} ms`, 'aim <= 1,000 ms'],
  ['  trials', programs.map((x) => x.toFixed(0)).join(', ') + ' ms', ''],
  ['wall time', `${((performance.now() - t0) / 1000).toFixed(1)} s`, ''],
];
console.log('overlay (network namespaces on one underlay bridge, veth, MTU 1450 in containers)');
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
for (const [k, v, aim] of rows) console.log(`  ${k.padEnd(w0)}  ${v.padStart(w1)}  ${aim}`.trimEnd());
console.log('');
console.log(
  JSON.stringify({
    join_to_reachable_ms: joinP50,
    throughput_ratio_vs_manual: ratio,
    manual_vs_underlay_ratio: over('manual', 'underlay'),
    weft_vs_underlay_ratio: over('weft', 'underlay'),
    program_200_peers_ms: SMOKE ? null : programP50,
    ...(SMOKE ? { smoke: true, peers: PEERS, program_ms: programP50 } : {}),
    absent: has('iperf3') ? [] : ['iperf3'],
  }),
);

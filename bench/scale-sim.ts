// The simulated rows of `npm run bench -- scale` (bench/scale.ts): one cluster size per
// process, so memory is that size's alone.
//   swim N S   SWIM alone (props/sim MembershipCluster, lan preset), S simulated seconds:
//              a quarter warm-up, a quarter measured idle, then one crash and the time until
//              every survivor holds it dead.
//   full N     membership, store (in memory, as an agent without --data-dir), DNS zone and
//              LB record index on every node: time until N nodes that each wrote their node
//              record and one endpoint hold the same documents, then idle traffic, one LB
//              plan per node, and one crash until no live view shows the dead endpoint.
// Prints one JSON line. CPU is this process's (user + system), the figure that does not
// depend on how busy the shared machine is; wall time is printed beside it.
//
// Where the time goes, SWIM (node --cpu-prof and heap snapshots, 2026-12-05, load 6-16):
//   Memory: every node holds every member, N² records, 220 B each at 3,000 nodes (208 B at
//     1,000; the tables' hash maps fill unevenly): the Member object 104 B, its entries in
//     MemberTable's two Maps (by name, by endpoint) ~95 B, probe order and ring slots 16 B.
//     Until issue 17 a record was 426-484 B: a cached push/pull entry and its node (104 B),
//     a property array for fields added after creation (64 B), a probe-ring hash WeakMap
//     entry (74 B). props/sim/memory.test.ts holds the figure at 300 nodes.
//   1,000 nodes, 60 s: 7 s CPU (14 s before). 3,000 nodes: 57 s CPU, 2.0 GB heap, 5.3 GB
//     peak RSS (5 GB heap and over 5 min before). At 3,000: GC 40 % (the young generation
//     fills every quarter of a simulated second or so, so timers and scheduled events
//     outlive scavenges and are copied and promoted); push-pull merges 17 %; forming (every
//     node merges the N-entry full state) 12 %; probe-ring rebuilds 12 % (a scan of N
//     members, twice per node: first round, the crash); datagrams 8 %; push-pull sizes 6 %.
//     Messages are shared objects between simulated nodes, never encoded or decoded: push-
//     pull sizes are worked out from the entries' fields (props/sim/entry-size.ts).
//   10,000 nodes: 10^8 records, ~22 GB of heap projected from 3,000 (N²): it does not fit
//     here. It needs records without an object each (per-node columns of states and
//     incarnations over a shared name index), a different MemberTable.
//   Full stack 100 nodes: 217 s CPU to form on SimDisk. Automerge work per (node, document)
//     pair: fast-path adoption (applyChanges, save for the journal) ~35 %, repair syncs
//     (generate/receive sync messages, admission decoding each change) ~45 %, GC 22 %.
//     `persist: false` (stores in memory, the agent's default) drops the journal's saves
//     and copies; the rest is one Automerge document per node per document, N² in all.
import { pathToFileURL } from 'node:url';
import dnsPacket from 'dns-packet';
import { makeConfig } from '../membership/core/config.js';
import { MembershipCluster } from '../props/sim/membership-cluster.js';
import { StoreCluster } from '../props/sim/store-cluster.js';
import { Zone } from '../dns/zone.js';
import { Responder } from '../dns/answer.js';
import { RecordIndex } from '../lb/records.js';
import { computeDesired } from '../lb/desired.js';
import { parseCidr } from '../lb/allocator.js';
import { endpointKey, nodeKey, type EndpointRecord } from '../records/schema.js';

export interface SwimRow {
  kind: 'swim';
  nodes: number;
  sim_s: number;
  form_wall_s: number;
  wall_s: number;
  cpu_s: number;
  events: number;
  /** CPU per node per simulated second, whole run (formation included). */
  cpu_ms_per_node_s: number;
  heap_mb: number;
  heap_kb_per_node: number;
  /** The process's peak resident set: the heap above plus garbage between collections and V8's spaces. */
  rss_peak_mb: number;
  bytes_per_node_s: number;
  msgs_per_node_s: number;
  /** Crash until every survivor holds it dead, simulated seconds (null: not within a minute more). */
  detect_s: number | null;
}

export interface FullRow {
  kind: 'full';
  nodes: number;
  /** Wall and CPU seconds from the first node's boot until all hold every node's documents. */
  form_wall_s: number;
  form_cpu_s: number;
  form_sim_s: number;
  wall_s: number;
  cpu_s: number;
  /** CPU per node per simulated second while idle. */
  idle_cpu_ms_per_node_s: number;
  heap_mb: number;
  heap_kb_per_node: number;
  /** Membership and store bytes sent per node per second while idle. */
  bytes_per_node_s: number;
  lb_plan_ms: number;
  dns_answers: number;
  /** Crash until no survivor's live view (DNS, LB) holds its endpoint, simulated seconds. */
  detect_s: number | null;
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const cpuS = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Heap in use after a full collection (the runtime's own share is subtracted by the callers). */
function heapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

/** Bytes and messages every node sent so far (all ports, datagrams and streams). */
function sent(c: MembershipCluster): { bytes: number; msgs: number } {
  let bytes = 0;
  let msgs = 0;
  for (const n of c.names()) {
    const t = c.traffic(n);
    bytes += t.bytesOut + t.streamBytesOut;
    msgs += t.packetsOut + t.streamsOut;
  }
  return { bytes, msgs };
}

/** Simulated ms from now until every up node but `victim` has reported it dead (undefined: not within `limitMs`). */
function timeToDead(c: MembershipCluster, victim: string, until: number, limitMs: number): number | undefined {
  const start = c.now;
  const waiting = new Set(c.upNodes().filter((n) => n !== victim));
  let last = start;
  const off = c.onEvent((e) => {
    if (e.member.name === victim && (e.type === 'dead' || e.type === 'reap') && waiting.delete(e.observer)) last = e.at;
  });
  c.runUntil(until);
  if (waiting.size > 0) c.runUntilTrue(() => waiting.size === 0, limitMs, 250);
  off();
  return waiting.size === 0 ? last - start : undefined;
}

export function runSwim(nodes: number, simS: number, seed = 1): SwimRow {
  const base = heapMb();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const c = new MembershipCluster({ nodes, seed, config: makeConfig('lan') });
  const formWall = (performance.now() - t0) / 1000;
  const quarter = (simS * 1000) / 4;
  c.run(quarter);
  const before = sent(c);
  c.run(quarter);
  const after = sent(c);
  const perNodeS = (x: number) => x / nodes / (quarter / 1000);
  const victim = c.names()[Math.floor(nodes / 2)]!;
  c.crash(victim);
  const dead = timeToDead(c, victim, simS * 1000, 60_000);
  // CPU and wall before the heap is measured: its forced full collection of an N² heap
  // (3 s at 3,000 nodes) is the measurement's cost, not the simulation's.
  const cpu = cpuS(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const heap = heapMb() - base;
  return {
    kind: 'swim',
    nodes,
    sim_s: r2(c.now / 1000),
    form_wall_s: r2(formWall),
    wall_s: r2(wall),
    cpu_s: r2(cpu),
    events: c.scheduler.eventsProcessed,
    cpu_ms_per_node_s: r3((cpu * 1000) / nodes / (c.now / 1000)),
    heap_mb: r2(heap),
    heap_kb_per_node: r2((heap * 1000) / nodes),
    rss_peak_mb: Math.round(process.resourceUsage().maxRSS / 1000),
    bytes_per_node_s: r2(perNodeS(after.bytes - before.bytes)),
    msgs_per_node_s: r2(perNodeS(after.msgs - before.msgs)),
    detect_s: dead === undefined ? null : r2(dead / 1000),
  };
}

/** Node i's one endpoint: service web, a unique address, backing VIP web:80. */
function endpointOf(i: number): EndpointRecord {
  return {
    service: 'web',
    addrs: [`10.1.${i >> 8}.${i & 255}`],
    ports: { http: { port: 80, proto: 'tcp' } },
    health: 'none',
    vips: [{ vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 }],
    source: 'docker',
  };
}

function answerCount(r: Responder<unknown>, name: string): number {
  const q = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name, class: 'IN' }] });
  const out = r.handle(q, true);
  if (!out) return 0;
  return ((dnsPacket.decode(out) as { answers?: unknown[] }).answers ?? []).length;
}

interface FullStack {
  c: StoreCluster;
  responders: Map<string, Responder<unknown>>;
  indexes: Map<string, RecordIndex>;
}

function bootFull(nodes: number, seed: number): FullStack {
  const responders = new Map<string, Responder<unknown>>();
  const indexes = new Map<string, RecordIndex>();
  const c = new StoreCluster({
    nodes,
    seed,
    config: makeConfig('lan'),
    // BENCH_SCALE_PERSIST=1: on a SimDisk, as before the in-memory option (for before/after figures).
    persist: process.env.BENCH_SCALE_PERSIST === '1',
    onStart: (name, store) => {
      const zone = new Zone({ nodeName: name });
      zone.attach(store);
      responders.set(name, new Responder(zone, undefined, undefined, {}));
      const idx = new RecordIndex();
      idx.attach(store, () => {});
      indexes.set(name, idx);
    },
  });
  c.names().forEach((n, i) => {
    c.write(n, nodeKey(n), { addr: `192.168.${i >> 8}.${i & 255}` });
    c.write(n, endpointKey('web', n, 'c1'), endpointOf(i) as never);
  });
  return { c, responders, indexes };
}

/** Simulated ms from the crash of `victim` until no up node's live view holds its endpoint. */
function timeToHidden(c: StoreCluster, victim: string, limitMs: number): number | undefined {
  const key = endpointKey('web', victim, 'c1');
  const start = c.now;
  c.crash(victim);
  const done = c.runUntilTrue(() => c.upNodes().every((n) => c.store(n).get(key) === undefined), limitMs, 100);
  return done === undefined ? undefined : done - start;
}

export function runFull(nodes: number, seed = 1, idleS = 10): FullRow {
  const base = heapMb();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { c, responders, indexes } = bootFull(nodes, seed);
  const first = c.names()[0]!;
  const formed = c.runUntilTrue(
    () => c.storesAgree() && c.store(first).keys('svc/').length === nodes && c.membership.converged(),
    600_000,
    250,
  );
  if (formed === undefined) throw new Error(`full stack: ${nodes} nodes did not form within 600 simulated s`);
  const formWall = (performance.now() - t0) / 1000;
  const formCpu = cpuS(cpu0);
  const before = sent(c.membership);
  const idleCpu0 = process.cpuUsage();
  c.run(idleS * 1000);
  const idleCpu = cpuS(idleCpu0);
  const after = sent(c.membership);
  const plan0 = performance.now();
  const cidr = parseCidr('11.0.0.0/8');
  for (const idx of indexes.values()) computeDesired(idx.endpoints.values(), idx.declared.values(), cidr);
  const planMs = (performance.now() - plan0) / nodes;
  const dnsAnswers = answerCount(responders.get(first)!, 'web.svc.weft.internal');
  const hidden = timeToHidden(c, c.names()[Math.floor(nodes / 2)]!, 120_000);
  const heap = heapMb() - base;
  return {
    kind: 'full',
    nodes,
    form_wall_s: r2(formWall),
    form_cpu_s: r2(formCpu),
    form_sim_s: r2(formed / 1000),
    wall_s: r2((performance.now() - t0) / 1000),
    cpu_s: r2(cpuS(cpu0)),
    idle_cpu_ms_per_node_s: r3((idleCpu * 1000) / nodes / idleS),
    heap_mb: r2(heap),
    heap_kb_per_node: r2((heap * 1000) / nodes),
    bytes_per_node_s: r2((after.bytes - before.bytes) / nodes / idleS),
    lb_plan_ms: r3(planMs),
    dns_answers: dnsAnswers,
    detect_s: hidden === undefined ? null : r2(hidden / 1000),
  };
}

function main(): void {
  const [kind, n, s] = process.argv.slice(2);
  const nodes = Number(n);
  if ((kind !== 'swim' && kind !== 'full') || !(nodes > 0)) {
    console.error('usage: scale-sim.js swim <nodes> <simulated seconds> | full <nodes> [idle seconds]');
    process.exit(2);
  }
  const row = kind === 'swim' ? runSwim(nodes, Number(s ?? 60)) : runFull(nodes, 1, Number(s ?? 10));
  console.log(JSON.stringify(row));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

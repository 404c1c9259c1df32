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
// Where the time goes, SWIM (node --cpu-prof and heap snapshots, 2026-12-05):
//   Memory: every node holds every member, N² records. A record was an object with entries
//     in two Maps, 220 B at 3,000 nodes (426-484 B before that: a cached push/pull entry, a
//     property array, a probe-ring hash), and every major GC marked all 10^8 of them at
//     10,000 nodes (~22 GB projected). Now a table keeps columns of numbers indexed by the
//     name's number in a MemberRegistry shared by the simulated nodes (member-registry.ts):
//     state, incarnation, last change and the number of a shared place (address, port,
//     metadata), ~21 B plus probe order and insertion order (8 B), outside the GC's heap.
//     props/sim/memory.test.ts: 90 B per record at 300 nodes, everything included.
//   CPU, at 3,000 nodes before that change: GC 40 %, push-pull merges 17 %, forming 12 %,
//     probe-ring rebuilds 12 % (each node sorted N members at each change of the live set;
//     now the registry builds a ring once for the tables that hold the same live set). The
//     first push/pulls fell within 30 s of the start on every node, 2N entries per node,
//     more than forming itself: they now fall at each node's phase of the scaled interval
//     (swim.ts pushPullRound), and push/pull entries are shared objects, one per member and
//     state (MemberRegistry.entry), whose sizes props/sim/entry-size.ts works out once.
//     Messages are shared objects between simulated nodes, never encoded or decoded.
//   3,000 nodes, 60 s: 42.6-49.4 s wall, 2.0 GB heap before; 11-13 s, 0.34 GB after.
//   10,000 nodes, 60 s: 103-119 s wall (three runs), 117-134 s CPU, 4.2 GB heap and
//     columns, 4.0-4.4 GB peak RSS; since the eleventh pass 2.6 GB and 3.2 GB peak RSS,
//     105.9 s in the bench of record.
//     Forming is half of it (10^8 new records, ~0.5 µs each: the entry's checks, the name's
//     lookup, the record, the join event); the rest is probes, gossip and the push/pulls
//     that fall in the minute.
//   Full stack, forming (2026-12-05, load 1.5-16). One document per node (n/<node>: its
//     node record and endpoint), so N per store, N² in the process; each epoch has three
//     changes here (its empty first change, the node record, the endpoint), three pushes.
//     The lan model jitters every packet alone, so a node's three pushes reorder: about
//     one change per (node, document) pair came before its epoch's first change, was
//     dropped, and left to repair (0.7 documents repaired per pair, ~2.5 sync messages
//     each). 100 nodes took 86 s CPU: repair 50 % (admission decoding every change of
//     every sync message 19 %), fast-path adoption 24 % (a new Automerge document per
//     pair, ~1-5 ms of wasm), GC 28 %; CPU per pair grew with N (5.7 ms at 30, 8.8 at 100).
//   Now: the stores share read-only documents of the same history (crdt-store/doc-pool.ts:
//     a change is applied once per process, every other node follows the transition; same
//     messages in the same order, props/sim/store-share.test.ts), each change is decoded
//     once (automerge.ts), and a change that comes before its epoch's first waits for it
//     instead of costing a repair (a protocol fix: no sync messages while forming).
//     Forming, wall / CPU s, before issue 17's second pass: 100 nodes 3.6-4.0 / 5.1-5.8
//     (20.5 / 37.8 with BENCH_SCALE_SHARE=0; load 2-5), 300 nodes 27.5 / 32.5 (load 2),
//     1,000 nodes with the zone and LB index on 100 of them 438 / 612 (load 3-6; heap
//     3.3 GB, 5.8 GB RSS; 5.4 sync messages per node: more than 256 documents waited at once).
//   Second pass (2026-12-05). What grows faster than N per node, from profiles at 300 and
//     1,000 nodes (--cpu-prof; the 1,000-node runs with the views on every 10th node):
//     - GC: 18-22 % of forming at 300, 26-28 % at 1,000. Every node holds state per other
//       node (N² in the process, 2.8 GB at 1,000), each major GC marks all of it, and the
//       scavenges promote most of what forming allocates (it is kept);
//     - the event queue: 8 % at 300, 10-12 % at 1,000 (pop+sift over ~1M packets in flight,
//       a cache miss per compared object);
//     - the fast path's dedup windows (seen, forwarded: 16,384 ids; recent: 4,096 changes):
//       7 % at 1,000. Forming puts every change in every node's windows, 3N entries each, so
//       the maps outgrow the caches; the recent window also pins the packet each change
//       came in (8 KB msgpackr slabs here: RSS 5 GB beside a 2.8 GB heap, and
//       createUnsafeBuffer 4 % of CPU);
//     - the documents waiting for their epoch's first change: a node waits for ~1/3 of the
//       others at once, past the 256 cap from ~700 nodes, and each one dropped cost a repair.
//     Cut: a live member's own document no longer counts against the waiting cap (one per
//     member, held anyway once it comes; others stay capped at 256: no sync message while
//     forming 1,000); the event queue is a 4-ary heap over typed arrays (3M pop+push with
//     800k in flight: 2.6 s, was 7-10.5); LruSet.add one lookup and insert, not three;
//     admission's actor check and the store's session actor made once; the DNS zone's names
//     lean (wire key only, one contributor inline, shared records: 4.9 -> 2.8 KB per pair)
//     and endpoint records parsed once per store value for the zone and LB index together
//     (records/schema.ts endpointRecordOf; 0.7 -> 0.2 KB per pair for the index).
//     Forming, wall / CPU s: 100 nodes 3.1 / 4.4 (load 2), 300 nodes 21.1-25.7 / 25.0-27.9
//     (load 2; heap 552 MB, was 795), 1,000 nodes (views on 100) 322 / 453 at load 0.8-3.4
//     (the CPU includes V8's parallel GC threads; 485 / 516 with the profiler on at load
//     1-8, 616 / 593 at load 8-10); heap 2.8 GB, 5.2 GB peak RSS; form_sim_s 0.5 (was 1.5:
//     no repairs). Still 2.7x issue 17's 120 s. At 1,000 nodes forming is 3M packet
//     receptions (three pushes per node, every node receives each once; two since a
//     start's epoch rides the node's first write, below), ~150-170 µs of
//     CPU each: GC 26 %, applying the change (27 %: following the
//     pooled document 9 %, admission 4 %, views and watches 3 %, adopting 3 %), msgpack
//     encode/decode of the forwarded pushes 14 % (new 8 KB encoder buffers 4 %), the
//     queue and the simulated network ~9 %, the dedup windows 8 %, the broadcast ring's
//     children 3 %. Under 120 s needs ~40 µs a reception: fewer
//     receptions (a node's writes of one moment in one push: 3 -> 2 here, a protocol
//     change), dedup windows and a recent window that hold ids, not bytes (answer grafts
//     from the document), and fewer objects per (node, record) for the GC to mark.
//   Third pass (2026-12-06): a start's new epoch waits up to 100 ms for the node's first
//     write and goes out on its push (crdt-store/defaults.ts ownEpochHoldMs): two pushes
//     per node here, and half the changes that came before their epoch (a node's two
//     pushes still reorder). Forming 400 nodes (views on 40): 35.6 -> 26.7 s wall (21.2 in a
//     later, quieter run of the submitted code); both
//     writes in one push as well would be 18.1 s, but the agent writes its endpoints when
//     Docker lists its containers, not with its node record, so the bench keeps them apart.
//     1,000 nodes (views on 100): 221 s wall / 285 s CPU (load 2-4), 4.1 GB heap; ~140 µs
//     of CPU per reception, 2M receptions.
//   Fourth pass (2026-12-06). A heap snapshot at 300 nodes: the fast path's window of recent
//     changes held each change's bytes, a view that kept the whole msgpack slab (8 KB) it
//     was decoded from (93 MB of slabs beside a 303 MB heap, 224k views); the forwarded
//     window's keys were `${id}/${limit}` strings (452k of them, 14 MB); every ring kept a
//     Map of positions and one of indices per member (2 rings a node, 35 MB), and a slot
//     object with a boxed position per member. Now recent changes are (document, epoch,
//     hash), read back from the store for a graft; forwarded keeps the last limit per id;
//     rings are two arrays (names, positions) over a process-wide table of positions. And
//     the simulator refreshes a node's members once per instant, as the daemon does once
//     per event-loop turn (store-node.ts), not once per member event. 1,000 nodes (views on
//     100), the same run before and after, load 1-2: forming 287.7 -> 253.4 s wall, 368.7 ->
//     317.5 s CPU, heap 3.90 -> 2.74 GB, peak RSS 5.2 -> 4.4 GB; every simulated figure the
//     same (form_sim_s, detect_s, bytes, incomplete pushes). A young generation of 32 MB
//     (--max-semi-space-size) gains ~10 % at 500 nodes and nothing at 1,000, where the
//     major collections of the N² heap dominate: not used.
//     Then a leak (base/oldest.ts): a table under its bound whose keys were set again kept
//     every table V8 compacted since, with their keys; the decode cache (bound 65,536 here,
//     never reached) held ~250-character keys of every lookup: 1,000 nodes 244.0 s wall /
//     308.4 s CPU, heap 1.89 GB, peak RSS 3.7 GB. One window of ids in the fast path instead
//     of three: 258.9 / 312.8 s, 1.80 GB (within this machine's noise of the run before).
//   Fifth pass (2026-12-06). A static 1.5 GB of extra heap costs forming 300 nodes nothing
//     (13.1 -> 13.3 s), so the growth of the cost per pair with N (134 -> 233 µs from 300
//     to 1,000 nodes, GC 16 -> 48 of it) is what forming keeps and churns, not the heap's
//     size. A sampling heap profile at 300 nodes: 13 KB allocated per reception, the
//     largest items strings made of a change's bytes (the decode cache's key, three per
//     reception, and the doc pool's transition key) and of an actor per change checked.
//     Now: the decode cache is keyed by an int32 read from the change's header, its bytes
//     compared on a hit; document kinds and writers' actors are made once; the doc pool
//     keeps each document's transitions with it, found by their bytes, and orders documents
//     by release instead of moving one per reception; a replica shares empty lists; members'
//     endpoints are looked up by address and port, not as strings; a change id is looked up
//     once per change. 1,000 nodes (views on 100), one after the other, load ~1: d0d598a
//     219.8 s wall / 276.1 s CPU, heap 1.80 GB, peak RSS 3.7 GB; a065aa1 187.3 / 228.1 s,
//     1.61 GB, 3.4 GB; every simulated figure the same. The idle window and the LB plans'
//     timing now follow a full collection: at 1,000 nodes forming's last major one (2 s of
//     marking) fell into one or the other depending on the code. A young-generation
//     mark-compact (--minor-mc) makes forming 500 nodes 60 % slower.
//   Sixth pass (2026-12-06). perf (V8's own work included): at 1,000 nodes scavenges took
//     32.6 s of the main thread (35-60 ms each past 1 GB of heap, ~2 MB promoted each),
//     Map lookups on cold per-node tables 13.5 % of all samples (18 % of the main thread's).
//     A heap snapshot after forming 300 nodes: 16.6 objects per (node, document) pair. Cut
//     to ~8: the window's forwarded range as two 26-bit integers, not a boxed 52-bit number;
//     the digest's and a replica's heads hash as an int32; change ids decoded as one string
//     per id and document ids as the process's one string (wire.ts, names.ts); a store keeps
//     the member objects it is given, shared by the simulator; and the store's live view kept
//     as where it differs from all (views.ts). Heap per pair at 150 nodes 1,848 -> ~1,460 B
//     (props/sim/store-memory.test.ts). 1,000 nodes (views on 100), alternating with
//     82a21fa, four pairs at load 0.1-5: heap 1.57-1.59 -> 1.24-1.25 GB, peak RSS 3.2-3.35
//     -> 2.9 GB; forming 167.7-221.4 s wall (median 182.3) against 179.5-224.4 (median
//     200.0), faster in three pairs of four; at 600 nodes, four rounds, min form CPU 52.5 s
//     against 54.6, median 59.3 against 59.9. Fewer objects cut memory by a fifth and time by
//     less than a tenth: what is left is the mutator's lookups, one cold table after another
//     per reception.
//   Seventh pass (2026-12-06). A reception's allocations, sampled at 300 nodes: ~10 KB, a
//     third of it msgpack (every relay encoded a push once per child, every node decoded
//     it). Now a push's change list is encoded once per list (wire.ts encodePush, the same
//     bytes: a relay's children share it, and so do all simulated nodes), the simulator
//     hands each message to its receiver whole beside its bytes (StoreCluster shareMessages,
//     as the SWIM simulator does; props/sim/store-share.test.ts: every output byte for byte
//     the same), a change decoded again from the same array is not compared again, and ring
//     positions are looked up without a closure per packet. Sampled allocation over the
//     300-node run, with the first two: 1.95 -> 1.63 GB; 500 nodes, the same, three rounds
//     alternating with fa2a025: forming 23.7-26.2 s wall against 26.0-30.0. 1,000 nodes (views on 100), six runs of
//     the new code and four of fa2a025's interleaved within 50 minutes, load 1.3-2.7:
//     forming 140.0-168.7 s wall (median 156.6) against 167.8-186.3 (median 177.5), CPU
//     168.5-209.7 s (median 190.2) against 202.3-227.5 (216.0); heap 1.23 GB against 1.25;
//     every simulated figure the same. A young generation of 32, 64 or 128 MB
//     (--max-semi-space-size), with one V8 worker thread or four, was no better in
//     alternation (64 MB: 137.4-178.6 s over five runs): the bench passes no such flag.
//   Eighth pass (2026-12-07). Objects per (node, document) pair, from a heap snapshot at 200
//     nodes: 10.3, three of them the fast path's window entries (an object of state per
//     change id a node knows) and two the digest's (an entry object, a set per group). Now a
//     change taken and not forwarded is held as where it is, one object per change however
//     many nodes hold it (fast-path.ts whereOf; a Known only where a push had children), and
//     a digest entry is a slot in typed arrays that knows its group. 7.1 objects per pair
//     after the first; heap per pair at 150 nodes 1,462 -> 1,237 B. 1,000 nodes (views on
//     100), interleaved with f3ad187 within 70 minutes, load 1.8-2.9: forming 137.7, 145.5,
//     138.0, 184.4 s wall (median 141.7) against 189.3, 171.4, 158.5, 162.8, 161.3 (median
//     162.8); CPU median 171.0 s against 197.4; heap 1.03-1.05 GB against 1.23-1.25. Main
//     thread GC (--trace-gc, the whole run): mark-compact pauses and steps ~20 s against
//     31.8, scavenges 18-19 s against 19.9. Every simulated figure the same.
//   Ninth pass (2026-12-07). The simulator's cores shared their messages but still made each
//     push's bytes, one array per child, only to count them: ~2M arrays with their buffers
//     outside the heap, held while the packet was in flight, so young collections kept them
//     and major ones freed them. Now a sharing core hands on each message with its size
//     (wire.ts encodedSize: the push's parts, not joined) and makes its bytes only if they are
//     read (store-share.test.ts reads and compares them). 1,000 nodes (views on 100), against
//     a880009 in alternation, load 1.3-2.3: forming 129.9 and 131.7 s wall against 171.2 and
//     170.1, CPU 140.6 and 145.9 s against 204.1 and 208.2; two more runs of this code 122.1
//     and 147.8 s (load 1.7-2.0); `npm run bench -- scale` 136.1 s (load 2.8). Every
//     simulated figure the same. Tried, not
//     kept: a calendar queue (buckets of 1/16 ms for 64 ms, a heap beyond) in place of the
//     4-ary heap: 125.1 and 124.7 s against 122.1 and 147.8 in alternation, and slower
//     alone with most events beyond its horizon.
//   Tenth pass (2026-12-07). What the simulator still did for nothing, from a profile at
//     1,000 nodes: it packed every message but a push only to count it (an ihave's ids
//     turned to bytes first: 5.5 % of forming, with the push's head and tail), compared the
//     bytes of each change with the decode cache's copy although every node was handed the
//     same array (2.7 s), built and hashed `id@epoch:heads` once per replica of one shared
//     history (64 of 1,228 MB allocated at 300 nodes), and set the views' empty queue to
//     length 0 after every change. Now messages are counted by their layout
//     (replication/msgpack-size.ts), decoded changes are known by their array (a WeakMap),
//     a pooled document keeps its hash, and an empty queue is left alone. 1,000 nodes
//     (views on 100), five runs of this code alternating with five of 808fc1f, load 0.4-2.0:
//     forming 97.8-128.9 s wall (median 107.1) against 117.5-146.2 (median 129.1), CPU
//     median 120.2 s against 145.6; every simulated figure the same. The bench of record
//     varied as much: 131.9 s in a run whose SWIM at 10,000 nodes (unchanged) took 130.4 s
//     against 113.5 the stop before, and 91.5 s (SWIM 119.6) in the next, 40 minutes later.
//     Looked at, not done: a larger initial old space (700 nodes: 6 mark-compacts instead
//     of 10, 0.5 s of 44.7) and the DNS zone's own cost (7.9 %, spread over a dozen
//     functions of ~0.5 s each).
//   Eleventh pass (2026-12-07), SWIM at 10,000 nodes. A profile put 19 % of the CPU in the
//     member tables' columns (members.ts fit): each table had room for 16,384 members, and
//     the kernel zeroed and faulted in 4.1 GB. Sized to the members in use: 2.6 GB. And the
//     event queue is bucketed by millisecond (props/sim/scheduler.ts) with no horizon: every
//     bucket in a map, the buckets in use in a small heap, so the far timers that made the
//     ninth pass's calendar queue slower cost one bucket each. 6 % less CPU at 10,000 nodes
//     (105-106 s wall against 112-113, alternating with b8e6036); the full stack at 1,000
//     did not move beyond noise (80.7 and 82.0 s against 74.2 and 85.5), as the ninth pass
//     found. Every simulated figure the same.
//   Full stack, memory per (node, node record + endpoint) pair at 100 nodes (heap after
//     GC): store and membership 3.3 KB (views, digest, the fast path's windows), DNS zone
//     2.8 KB (was 4.9), LB index 0.2 KB (was 0.7): 6.4 KB (was 9.0). Views on every node at
//     1,000 would need ~6.4 GB of heap: BENCH_SCALE_VIEWS_EVERY=10 runs the zone and LB
//     index on every 10th node only.
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
  /** Nodes running the DNS zone and LB index (BENCH_SCALE_VIEWS_EVERY; all by default). */
  views_nodes: number;
  /** While forming, per node: documents adopted, pushed changes that could not apply yet (left to repair), sync messages taken. */
  form_adopted_per_node: number;
  form_incomplete_per_node: number;
  form_sync_msgs_per_node: number;
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const cpuS = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Heap in use after a full collection, with the typed arrays' memory outside it (the member
 * tables' columns). The runtime's own share is subtracted by the callers.
 */
function heapMb(): number {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1e6;
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

/**
 * BENCH_SCALE_VIEWS_EVERY=k: the DNS zone and LB index on every k-th node only (default 1,
 * every node). Each holds every node's records, ~3 KB per other node: at 1,000 nodes 10^6
 * pairs, ~3 GB in one process, beside the stores' and membership's ~3.3 GB.
 */
const VIEWS_EVERY = Math.max(1, Number(process.env.BENCH_SCALE_VIEWS_EVERY ?? 1));

function bootFull(nodes: number, seed: number): FullStack {
  const responders = new Map<string, Responder<unknown>>();
  const indexes = new Map<string, RecordIndex>();
  const c = new StoreCluster({
    nodes,
    seed,
    config: makeConfig('lan'),
    // BENCH_SCALE_PERSIST=1: on a SimDisk, as before the in-memory option (for before/after figures).
    persist: process.env.BENCH_SCALE_PERSIST === '1',
    // BENCH_SCALE_SHARE=0: every node its own copy of every document (for before/after figures).
    shareDocs: process.env.BENCH_SCALE_SHARE !== '0',
    // BENCH_SCALE_SHARE_MSGS=0: every node decodes every packet (for before/after figures).
    shareMessages: process.env.BENCH_SCALE_SHARE_MSGS !== '0',
    onStart: (name, store) => {
      if (VIEWS_EVERY > 1 && Number(name.slice(name.lastIndexOf('-') + 1)) % VIEWS_EVERY !== 0) return;
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

/** Simulated time between forming and the idle measurement. */
const SETTLE_MS = 5000;

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
  const counts = formCounts(c);
  // Idle is measured from SETTLE_MS after forming: the stores agree within a check or two
  // now, while membership's first rounds (push-pull with every new member) still run.
  c.run(SETTLE_MS);
  // Forming's garbage is collected first: a major collection of it (2 s of marking at 1,000
  // nodes) otherwise falls where it falls, into the idle window or the plans' timing, and
  // both figures measured the collection, not what they name.
  gc();
  const before = sent(c.membership);
  const idleCpu0 = process.cpuUsage();
  c.run(idleS * 1000);
  const idleCpu = cpuS(idleCpu0);
  const after = sent(c.membership);
  gc();
  const plan0 = performance.now();
  const cidr = parseCidr('11.0.0.0/8');
  for (const idx of indexes.values()) computeDesired(idx.endpoints.values(), idx.declared.values(), cidr);
  const planMs = (performance.now() - plan0) / indexes.size;
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
    views_nodes: indexes.size,
    form_adopted_per_node: r2(counts.adopted / nodes),
    form_incomplete_per_node: r2(counts.incomplete / nodes),
    form_sync_msgs_per_node: r2(counts.syncMsgs / nodes),
  };
}

/** Where forming's Automerge work went, summed over the nodes. */
function formCounts(c: StoreCluster): { adopted: number; incomplete: number; syncMsgs: number } {
  let adopted = 0;
  let incomplete = 0;
  let syncMsgs = 0;
  for (const n of c.upNodes()) {
    const s = c.core(n).stats();
    adopted += c.store(n).stats().docsAdopted;
    incomplete += s.fastPath.incomplete;
    syncMsgs += s.repair.syncMessagesIn;
  }
  return { adopted, incomplete, syncMsgs };
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

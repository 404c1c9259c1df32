// The Node and V8 flags the agent runs with, set in three places that must agree (a test checks):
// the `weft` shebang (src/cli.ts), `npm start` (package.json) and `weft dev-cluster`; and
// the malloc tuning of its environment (AGENT_GLIBC_TUNABLES), which a shebang cannot set.
//
// --max-semi-space-size=4: V8's young generation grows to 3 x 16 MB by default, which is
// most of an idle agent's heap. The agent's allocations are short-lived and small (packets,
// watch events), so 4 MB semi-spaces cost little in scavenges and keep ~25 MB off the RSS
// of every node (bench: `npm run bench -- store`, rss_mb_1000x30).
//
// --wasm-lazy-validation: V8 validates each function of Automerge's 3.6 MB of wasm when it
// first compiles it (it compiles them lazily already) instead of all of them up front. That
// halves the module's compile, the largest single item of an agent's start (28 -> 14 ms of
// CPU here; `npm run bench -- startup`). Nothing runs unvalidated: a function is validated
// before its first call, and the wasm is the package's own.
//
// --v8-pool-size=1: one V8 worker thread for background jobs (concurrent GC, optimising
// compiles), not Node's four. Each thread that allocates gets a malloc arena of its own, and
// what a thread frees stays in its arena (glibc trims only the top of it): the agent's heap
// is small, so three more threads bought nothing but arenas. An idle member of a 30-agent
// cluster 83-85 -> 79 MB RSS (anonymous 39-41 -> 35), one holding a 1,000-node cluster's
// store 108-109 -> 98-102 MB, RSS after start ~1 MB less; start time, local update rates and
// DNS CPU per query unchanged (`npm run bench -- idle`, `store`, `dns`, `startup`).
//
// --test-udp-no-try-send: Node sends each UDP datagram at once (uv_udp_try_send) unless this
// is set; with it, a send goes through libuv's queue, and sends made while earlier ones still
// wait there (the answers to a burst of queries libuv read in one go) leave together, up to
// 20 to a sendmmsg call. At dnsperf's full rate on loopback that is 0.98-1.27 x the queries a
// second from the same processes, median 1.19 (two A/Bs of two weft servers, 4 interleaved
// rounds each: 62.7-82.2 against 51.7-80.1 thousand); a lone send still goes out at once.
// The flag is Node's own (node_options.cc, present from Node 12 to 26), meant for its tests:
// src/node-flags.test.ts checks that the node running the tests accepts every flag here,
// and src/udp-batch.system.test.ts that this one has its effect.
export const AGENT_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  '--wasm-lazy-validation',
  '--v8-pool-size=1',
  '--test-udp-no-try-send',
];

/**
 * glibc's malloc for the agent, set in its environment by the package's `weft` wrapper,
 * `npm start` and `weft dev-cluster`:
 *
 * trim_threshold=262144: the heap's free top is given back past 256 KB. Left alone, glibc
 * raises it (and the mmap threshold) each time a large block is freed, so what a start
 * allocates and frees (compiling, loading, the first passes) stays in the process for good:
 * 7 MB of an idle agent's malloc heap, RSS 72-73 -> 68.5-69 MB (packaged bundle, 10 s idle,
 * smaps). Its default, 128 KB, gives back 0.3 MB more but trims and regrows the heap all
 * through the start: 455 brk calls to ready, against 56 left alone and 182 at 256 KB (at
 * 1 MB: 70 calls, but 70.0 MB).
 *
 * mmap_threshold=32768: a block of 32 KB or more gets a mapping of its own, unmapped when
 * freed. Most such blocks are V8's compiler zones (TurboFan's 32 KB segments, Liftoff's
 * for Automerge's wasm): thousands while a member joins and its code warms up, each freed
 * within its compile. On the heap, anything long-lived allocated meanwhile pins the pages
 * under them: an idle member of a 20-agent cluster kept 12 MB of malloc heap (smaps: 7.3
 * main, 4.6 a thread's arena), and such members' RSS was 75-84 MB; with their own mappings
 * 71-74 MB, idle CPU the same (7 agents each, side by side, 75 s after the join). The reads of sockets do not allocate that much (strace:
 * no mmap under DNS or TCP load), so the hot paths pay nothing; a start pays ~5 % more CPU
 * (`npm run bench -- startup`, ready_cpu_ms medians 210 against 200). 16 KB gave no less RSS
 * and cost more at start.
 *
 * A host's own GLIBC_TUNABLES wins. The DNS and proxy workers inherit it (`npm run bench --
 * dns` and `lb` measure them so). /proc/PID/environ shows only the first tunable: glibc
 * (2.36 here) cuts the original string there once it has read them all, and keeps the whole
 * list in the environment it hands on.
 */
export const AGENT_GLIBC_TUNABLES = 'glibc.malloc.trim_threshold=262144:glibc.malloc.mmap_threshold=32768';

/** `env` with the agent's malloc tuning, unless it sets GLIBC_TUNABLES itself. */
export function agentEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? AGENT_GLIBC_TUNABLES };
}

// Every default of the load balancer, with the reason for its value (as memberlist's
// config.go). config-schema.ts reads the user-facing ones from here; the constructors fall
// back to these and to nothing else.
import type { ReconcileRunnerOptions } from '../base/reconcile-runner.js';

export const DEFAULTS = {
  /** nft when root and `nft` work (kernel DNAT, every client on the node), else the userspace proxy (works unprivileged). */
  datapath: 'auto',
  /**
   * RFC 2544's benchmarking range: not routed on the internet (unlike 11.0.0.0/8, which is
   * allocated public space) and, unlike 10/8, 172.16/12 or CGNAT's 100.64/10, rarely used
   * inside datacenters. 131,070 addresses.
   */
  vipCidr: '198.18.0.0/15',
  /**
   * No IPv6 VIP addresses unless asked: a host with IPv6 off would refuse them, and the
   * operator picks the range (a ULA /64 of fd00::/8 that no host uses).
   */
  vipCidr6: '',
  /** Literal-IP VIPs only inside vipCidr unless the operator names more: a VIP may shadow a real host. */
  vipAllow: [] as readonly string[],
  /** Where the userspace datapath listens: on Linux every 127/8 address is local, and 127.128/9 is rarely used. */
  proxyCidr: '127.128.0.0/9',
  /** Spread every connection (random), as kube-proxy's default; `source` is for stateful backends. */
  affinity: 'none',
  /** Userspace: round-robin needs no state shared between VIPs and is fair when backends are alike. */
  policy: 'round-robin',
  /** nft table (family inet, both IP families): one table of weft's own, so a cleanup is one `delete table`. */
  table: 'weft',
  /** Dummy interface holding the VIP addresses, so the kernel accepts traffic to them. */
  iface: 'weft-vip0',
  /** The nft command on PATH. */
  nftCommand: 'nft',
  /** Timeout of the `nft list tables` probe at start: a working nft answers in milliseconds. */
  nftProbeTimeoutMs: 5_000,
  /** A store merge delivers its records within a few ms: 10 ms makes them one pass and adds little latency. */
  debounceMs: 10,
  /** debounceMs is capped here: a VIP change should reach the kernel well inside DNS's 5 s TTL. */
  maxDebounceMs: 50,
  /** No floor between passes: an nft transaction takes milliseconds, and the debounce already batches. */
  minIntervalMs: 0,
  /** Full check against the kernel, as kube-proxy's syncPeriod: repairs hand edits without reading the kernel on every pass. */
  resyncMs: 30_000,
  /** A failed pass is retried after 1 s, doubling... */
  retryBaseMs: 1_000,
  /** ...up to 30 s (one resync period), so a broken nft is not hammered. */
  retryMaxMs: 30_000,
  /** ±10 %: nodes that failed together (a bad record everywhere) do not retry in lockstep. */
  retryJitter: 0.2,
  /** The node's own addresses are re-read (after a pass, off its path) at most this often outside full passes: they change rarely, and reading costs a process. */
  localAddrsRefreshMs: 5_000,
  /** Userspace proxy: a backend that has not accepted in 2 s is down or overloaded; try another. */
  connectTimeoutMs: 2_000,
  /** Userspace proxy: first ejection after a failed connect, doubling per consecutive failure... */
  ejectMs: 1_000,
  /** ...up to 30 s, so a backend that comes back is used again within half a minute. */
  ejectMaxMs: 30_000,
  /** Userspace proxy: backends tried per client connection; three covers a rolling restart of two. */
  maxAttempts: 3,
  /** Userspace proxy: a UDP session idle this long is closed: request/response protocols reuse it, and idle ones free their socket. */
  udpIdleMs: 30_000,
  /**
   * Userspace proxy: acceptor processes (node:cluster workers sharing each listening socket).
   * One Node process tops out at one core for new connections, while HAProxy uses a thread
   * per core; two use both cores of a small host. 0: the proxy runs in the agent's process.
   * Workers start with the first VIP, so a node without VIPs pays nothing.
   */
  proxyWorkers: 2,
  /**
   * Userspace proxy: TCP connections one process holds open; a client beyond it is closed at
   * accept (counted, weft_lb_proxy_refused_total). Each open connection holds its read
   * buffers (80 KB, lb/proxy-handles.ts), so this bounds what idle connections can make a
   * process hold: 320 MB. HAProxy's maxconn is of the same order on a small host.
   */
  proxyMaxConnections: 4096,
  /** A worker reports its counters this often (and after each change), so summed counters lag by at most this. */
  proxyStatsMs: 500,
  /** A worker that crashed is replaced after this, doubling while it keeps crashing young... */
  proxyRestartMs: 100,
  /** ...up to 5 s, so a worker that cannot start does not spin the host. */
  proxyRestartMaxMs: 5_000,
} as const;

/** The runner's timing for the load balancer's passes. */
export function lbRunnerTimings(o: { debounceMs?: number; resyncMs?: number }): Omit<ReconcileRunnerOptions, 'pass'> {
  return {
    debounceMs: Math.min(DEFAULTS.maxDebounceMs, Math.max(0, o.debounceMs ?? DEFAULTS.debounceMs)),
    minIntervalMs: DEFAULTS.minIntervalMs,
    fullEveryMs: o.resyncMs ?? DEFAULTS.resyncMs,
    retryBaseMs: DEFAULTS.retryBaseMs,
    retryMaxMs: DEFAULTS.retryMaxMs,
    retryJitter: DEFAULTS.retryJitter,
  };
}

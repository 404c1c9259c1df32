// Every default of the DNS server, with the reason for its value (as memberlist's
// config.go). config-schema.ts reads the user-facing ones from here; the constructors fall
// back to these and to nothing else.

export const DEFAULTS = {
  /** Loopback and an unprivileged port: no root needed, nothing exposed; port 53 only where configured. */
  listen: [{ addr: '127.0.0.1', port: 8600 }] as readonly { addr: string; port: number }[],
  /** `.internal` is reserved for private use (ICANN, 2024): it never collides with a public name. */
  domain: 'weft.internal.',
  /** Seconds, as dcos-net's 5 s: a dead backend leaves clients' caches within failure-detection time. */
  ttlS: 5,
  /** Containers pointed at weft still resolve the internet. */
  forward: true,
  /** Upstreams come from the host's resolver configuration unless named. */
  resolvConf: '/etc/resolv.conf',
  /** This node's own clients only: an open resolver is an amplifier and a cache-poisoning oracle. */
  recursionAllow: ['127.0.0.0/8', '::1/128', 'docker', 'overlay'] as readonly string[],
  /** The Docker bridges are re-read at most this often on an unknown client's query: a new network is seen within seconds, a flood costs little. */
  aclRefreshMs: 10_000,
  /** UDP responses per second to one client network, burst as many: far above a real client, low enough to make reflection pointless. */
  rateLimit: 1000,
  /** Over the limit every 2nd answer goes out truncated (BIND's RRL default): a real client retries over TCP, a spoofed victim gets half. */
  rateLimitSlip: 2,
  /** Local clients are never limited: they cannot be spoofed from outside. */
  rateLimitExempt: ['127.0.0.0/8', '::1/128'] as readonly string[],
  /** Client networks the rate limiter tracks at once: bounded memory under a spoofed-source flood. */
  rateLimitMaxClients: 16_384,
  /** Largest UDP answer to EDNS clients, and the payload asked of upstreams: DNS flag day 2020's 1232 avoids IP fragmentation. */
  udpPayload: 1232,
  /** Forwarded answers cached (least recently used goes first): a node's working set, a few MB at most. */
  cacheSize: 10_000,
  /** Upstream queries in flight at once; past it SERVFAIL: a flood of random names cannot exhaust sockets. */
  maxOutstanding: 512,
  /** Wait for one upstream before trying the next: above a resolver's usual worst case, below a stub's 5 s retry. */
  upstreamTimeoutMs: 1_500,
  /** Longest time a forwarded answer is cached whatever its TTL, so a poisoned or stale answer does not stick for days. */
  maxTtlS: 3_600,
  /** An upstream's failure score halves every 30 s, so one that recovers is preferred again within a minute. */
  failureHalfLifeMs: 30_000,
  /** Clients waiting on one question; more get SERVFAIL: bounds memory under a flood of one name. */
  maxWaiters: 1_000,
  /** Open TCP client connections at once: TCP is the fallback, rarely many. */
  maxTcpConnections: 256,
  /** A TCP client with nothing to say for this long is closed (RFC 7766 suggests seconds), freeing its slot. */
  tcpIdleMs: 10_000,
  /**
   * DNS worker processes beside the agent, reading the same UDP sockets: the answer path off
   * the agent's event loop, and the agent's core too once the worker is busy (agent-reading.ts);
   * raise it on a bigger host that serves much DNS. Each costs a Node process (~40 MB) while it runs.
   */
  workers: 1,
  /** UDP queries per second that start the workers: far above what a node's own clients ask, so an idle agent has none. */
  workerStartQps: 2_000,
  /** Workers that read no query for this long stop (and start again under load): a burst does not leave processes behind for good. */
  workerIdleMs: 300_000,
  /** How often the Docker bridges are read again for the recursion ACL, and hostile traffic is summed up in the log. */
  housekeepingMs: 30_000,
} as const;

// Every default of the replicated store, with the reason for its value (as memberlist's
// config.go). config-schema.ts reads the user-facing ones from here; LocalStore, StoreNode,
// the journal, change signing and the replication core fall back to these and to nothing
// else. It imports nothing, so every module of the store may import it.

/** Smallest datagram that crosses any IPv6 path (minimum MTU 1280) without fragmenting, headers included. */
const UDP_BYTES = 1200;

export const DEFAULTS = {
  /** The port after gossip's 7946 (memberlist's), so one firewall rule range covers both. */
  bindPort: 7947,
  /** Largest UDP datagram of the store, envelope included. */
  udpBytes: UDP_BYTES,
  /** Stream connect/exchange timeout, as membership's tcpTimeout on a LAN. */
  streamTimeoutMs: 10_000,
  /** Records of an owner dead this long are dropped by every node: as membership's reapAfter (24 h), so a node back from a long outage still finds its records. */
  reapAfterMs: 24 * 3600_000,
  /** A peer's epoch this far ahead of our clock is not believed: wider than any sane clock skew, narrow enough that a forged epoch cannot pin a document for long. */
  maxEpochAheadMs: 3600_000,
  /** One value at most 64 KiB and 32 levels deep: config and records fit, a hostile writer cannot bloat every replica. */
  valueLimits: { maxBytes: 64 * 1024, maxDepth: 32 },
  /** Verified change signatures remembered: a verify costs ~0.1 ms, and 64 Ki covers every change of a busy cluster's recent minutes. */
  changeAuthCacheSize: 65_536,
  /** Journal: compact when the log exceeds max(1 MiB, ...) so a small store does not rewrite its snapshot on every few writes... */
  minLogBytes: 1024 * 1024,
  /** ...or 2x the snapshot, so the log never costs more than twice the state on disk or at replay. */
  compactRatio: 2,
  /** Journal: buffered appends are written once 256 KiB wait: one write per burst, bounded memory. */
  flushBytes: 256 * 1024,
  /** The replication core (replication/core.ts ReplicationConfig). */
  replication: {
    /** The store's payload per datagram when no envelope wraps it (StoreNode subtracts the envelope's overhead). */
    udpPayload: UDP_BYTES,
    // Eager tree arity: 8 children per node keeps 20 nodes within 2 hops and 1,000 within 4
    // (a binary tree: 5 and 10). Each hop costs a relay's scheduling delay, which on a busy
    // host is most of a change's latency, and a lost push costs at most N / 8 nodes. Every
    // node still receives each change once; only the origin sends more (8 packets).
    treeFanout: 8,
    /** Plumtree's lazy announcements on: a lost eager push comes back without waiting for anti-entropy. */
    lazyPath: true,
    // Announcements batch a quarter second of changes: at a few updates per second that is
    // well under one lazy message per node per update, and a lost push still comes back in
    // ~0.3 s, sooner than anti-entropy (one round a second) would find it.
    lazyDelayMs: 250,
    // Ids of changes got in the last second ride every push (up to 16, ~10 bytes each): at a
    // few updates per second a node that missed a push hears of it on the next one it
    // receives, within an update interval or two, and sends nothing extra to learn it.
    pushAnnounceMs: 1000,
    /** Wait for the eager push this long after an announcement before grafting: a LAN round trip and some. */
    graftDelayMs: 20,
    /**
     * Change ids remembered (duplicate suppression, the ranges pushes were forwarded for, and
     * where each change is, to answer grafts): minutes of changes at a busy cluster's rate.
     */
    seenCapacity: 16_384,
    /** Anti-entropy with one random member per second (jittered): a missed change converges in a few seconds. */
    repairIntervalMs: 1000,
    /** Documents compared per repair session: bounds one session's work; the next round does the rest. */
    maxDocsPerSession: 256,
    /** Automerge sync round trips per session: a diverged document converges in a few; a hostile peer cannot loop. */
    maxSyncRounds: 16,
    /** A repair session that has not finished in 10 s is dropped (as the stream timeout). */
    sessionTimeoutMs: 10_000,
    /** Repair sessions served at once: bounds the CPU a flood of peers can take. */
    maxInboundSessions: 8,
    /** The reaping rule runs every 10 s: reaping is measured in hours, so this is plenty. */
    reapCheckMs: 10_000,
    /** Documents unused for one to two of these periods hibernate, freeing their Automerge state. */
    hibernateEveryMs: 30_000,
    /** Membership learns of a joiner within a gossip round or two, well under 2 s. */
    heldPacketMs: 2_000,
    /** At most 64 datagrams from unknown senders wait at once: bounded memory under spoofing. */
    heldPackets: 64,
    // A start's new epoch waits this long for the node's first write (the agent writes its
    // node record right after the store starts) and goes out on the same push: one push per
    // start, not two that can arrive in either order, the write then waiting for the epoch.
    // Without a write it goes alone, a tenth of a second late: repair would take a second.
    ownEpochHoldMs: 100,
  },
  /** LocalStore compaction: rewrite the own document once its changes exceed max(256, 4x its size): history stays bounded, rewrites stay rare. */
  compaction: { minChanges: 256, factor: 4 },
} as const;

// Timings and sizes of the protocol. The presets carry hashicorp/memberlist's
// DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig values so that weft and serf
// can be compared like for like; the healing and reaping knobs are weft's own.

export interface SwimConfig {
  /** Time between probes of successive members (scaled up by local health awareness). */
  probeIntervalMs: number;
  /** Wait for a direct ack before asking others to probe; ~ the 99th percentile RTT. */
  probeTimeoutMs: number;
  /** Members asked to ping-req a target whose direct ping went unanswered. */
  indirectChecks: number;
  /** Each gossip message is sent retransmitMult * ceil(log10(N+1)) times. */
  retransmitMult: number;
  /** Minimum suspicion timeout = suspicionMult * max(1, log10(N)) * probeInterval. */
  suspicionMult: number;
  /** Maximum suspicion timeout = suspicionMaxTimeoutMult * minimum. */
  suspicionMaxTimeoutMult: number;
  /** Local health can stretch probe timings at most this many times. */
  awarenessMaxMultiplier: number;
  /** Period of the gossip round that sends queued updates not carried by probes. */
  gossipIntervalMs: number;
  /** Members each gossip round goes to. */
  gossipNodes: number;
  /** Dead members still receive gossip this long, so a falsely declared node hears of it and refutes. */
  gossipToTheDeadTimeMs: number;
  /** Base period of full-state push/pull; stretched with cluster size past 32 members. 0 disables. */
  pushPullIntervalMs: number;
  /** Period of the healing round that retries seeds and dead members (memberlist has none). 0 disables. */
  healIntervalMs: number;
  /** Dead and left members are forgotten this long after their last change. */
  reapAfterMs: number;
  /** Stream connect/exchange timeout; for the transport, the core has no use for it. */
  tcpTimeoutMs: number;
  /** Bytes a UDP packet may carry, all headers of the wire format included. */
  udpPayload: number;
  /** Bytes reserved per packet for the wire format: version, label, CRC or GCM nonce+tag. */
  packetOverhead: number;
  /** Bytes added per message when several share a packet. */
  messageOverhead: number;
  /** Upper bound on queued gossip; the most-transmitted entries go first when exceeded. */
  maxQueuedBroadcasts: number;
  /**
   * Incarnations are seconds since the epoch at start, plus one per refutation or metadata
   * change, so an honest one is never far ahead of the clock (`now` / 1000). News about a
   * member with an incarnation more than this many seconds ahead is ignored and counted:
   * a forged accusation at a huge incarnation would otherwise be believed by everyone and
   * leave its target unable to outbid it. It must exceed the clock skew between nodes.
   * 0 turns the check off (drivers whose clock is not wall-clock seconds).
   */
  incarnationLeadS: number;
}

const LAN: SwimConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMaxMultiplier: 8,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadTimeMs: 30_000,
  pushPullIntervalMs: 30_000,
  healIntervalMs: 10_000,
  reapAfterMs: 24 * 3600_000,
  tcpTimeoutMs: 10_000,
  udpPayload: 1400,
  packetOverhead: 48,
  messageOverhead: 2,
  maxQueuedBroadcasts: 4096,
  incarnationLeadS: 24 * 3600,
};

const WAN: SwimConfig = {
  ...LAN,
  tcpTimeoutMs: 30_000,
  suspicionMult: 6,
  pushPullIntervalMs: 60_000,
  probeTimeoutMs: 3000,
  probeIntervalMs: 5000,
  gossipNodes: 4,
  gossipIntervalMs: 500,
  gossipToTheDeadTimeMs: 60_000,
  healIntervalMs: 30_000,
};

const LOCAL: SwimConfig = {
  ...LAN,
  tcpTimeoutMs: 1000,
  indirectChecks: 1,
  retransmitMult: 2,
  suspicionMult: 3,
  pushPullIntervalMs: 15_000,
  probeTimeoutMs: 200,
  probeIntervalMs: 1000,
  gossipIntervalMs: 100,
  gossipToTheDeadTimeMs: 15_000,
  healIntervalMs: 5000,
};

export const PRESETS = { lan: LAN, wan: WAN, local: LOCAL } as const;
export type PresetName = keyof typeof PRESETS;

/** A preset with any field overridden. Throws on values the protocol cannot run with. */
export function makeConfig(preset: PresetName = 'lan', overrides: Partial<SwimConfig> = {}): SwimConfig {
  const base = PRESETS[preset];
  if (!base) throw new RangeError(`unknown membership preset ${String(preset)}`);
  const config: SwimConfig = { ...base };
  for (const [key, value] of Object.entries(overrides) as [keyof SwimConfig, number | undefined][]) {
    if (value !== undefined) config[key] = value;
  }
  validateConfig(config);
  return config;
}

export function validateConfig(c: SwimConfig): void {
  for (const [key, value] of Object.entries(c)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`membership config ${key}: expected a finite number >= 0, got ${String(value)}`);
    }
  }
  if (c.probeIntervalMs <= 0) throw new RangeError('membership config probeIntervalMs must be > 0');
  if (c.probeTimeoutMs <= 0 || c.probeTimeoutMs >= c.probeIntervalMs) {
    throw new RangeError('membership config probeTimeoutMs must be > 0 and < probeIntervalMs');
  }
  if (c.gossipNodes > 0 && c.gossipIntervalMs <= 0)
    throw new RangeError('membership config gossipIntervalMs must be > 0');
  if (c.awarenessMaxMultiplier < 1) throw new RangeError('membership config awarenessMaxMultiplier must be >= 1');
  if (c.suspicionMaxTimeoutMult < 1) throw new RangeError('membership config suspicionMaxTimeoutMult must be >= 1');
  if (c.udpPayload <= c.packetOverhead + 64)
    throw new RangeError('membership config udpPayload too small for the packet overhead');
}

// Every default of membership, with the reason for its value (as memberlist's config.go).
// The SWIM timings are core/config.ts's presets (memberlist's DefaultLANConfig and
// friends, each field documented there); the rest is the transport's and the daemon's.
// config-schema.ts reads the user-facing ones from here.
import { PRESETS, type PresetName } from './core/config.js';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.js';

export const DEFAULTS = {
  /** Loopback: a node reachable from the network needs keys (or --insecure) anyway. */
  bindAddr: '127.0.0.1',
  /** memberlist's and serf's port, so firewall rules written for them fit. */
  bindPort: 7946,
  /** Datacenter timings: memberlist's LAN profile, the reference the benches compare with serf. */
  preset: 'lan' as PresetName,
  /** The SWIM timings of the default preset (reasons per field in core/config.ts). */
  swim: PRESETS.lan,
  /** Largest frame accepted or sent over TCP: a push/pull of several thousand members with full metadata. */
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  /** An inbound stream delivers its request and gets its answer within 10 s (memberlist's TCPTimeout), or is closed. */
  inboundTimeoutMs: 10_000,
  /** Authenticated inbound streams served at once: a flood cannot exhaust file descriptors. */
  maxInboundStreams: 64,
  /** Inbound streams waiting for their hello; when full the oldest goes, so a slow-loris cannot lock out peers. */
  maxPendingStreams: 32,
  /** Inbound streams from one source address: one host cannot take every slot. */
  maxStreamsPerSource: 8,
  /** A stream sends its hello within 3 s (one round trip on any sane network) or is dropped. */
  helloTimeoutMs: 3_000,
  /** New streams per second from one source: a peer needs a few; a connect loop is throttled. */
  streamsPerSourcePerSecond: 32,
  /** UDP receive buffer asked of the kernel (capped by net.core.rmem_max), as memberlist: absorbs a burst of gossip while the event loop is busy. */
  udpBufferBytes: 2 * 1024 * 1024,
} as const;

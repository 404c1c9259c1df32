// Every default of the VXLAN overlay, with the reason for its value (as memberlist's
// config.go). config-schema.ts reads the user-facing ones from here; the driver and its
// adapters fall back to these and to nothing else.
import type { ReconcileRunnerOptions } from '../base/reconcile-runner.js';

export const DEFAULTS = {
  /**
   * Private space (RFC 1918), 256 nodes of /24, the same on every node. Outside 10/8, where
   * `weft dev-cluster --netns` puts its agents (10.X.0.x; 10.42.0.x by default, which the old
   * default 10.42.0.0/16 overlapped), and where k3s (10.42/16 pods, 10.43/16 services) and
   * Kubernetes (10.96/12 services, 10.244/16 pods) live; below Docker's default pools
   * (172.17-172.31/16 bridges, 192.168/16 in /20s).
   */
  cidr: '172.16.0.0/16',
  /** A /24 per node: 253 containers, and subnets that read as the node's third octet. */
  subnetPrefix: 24,
  /** VXLAN network id: one overlay per cluster needs only one; 1 as flannel's. */
  vni: 1,
  /** IANA's VXLAN port (RFC 7348), which NICs offload and firewalls know. */
  port: 4789,
  /** VXLAN device: weft's prefix, and short enough for the kernel's 15-character limit. */
  device: 'weft.vx',
  /** Bridge holding the subnet's .1 as the containers' gateway. */
  bridge: 'weft0',
  /** Docker network on the bridge, named after weft so `docker run --network weft` reads right. */
  dockerNetwork: 'weft',
  /** The DNS server also listens on the gateway at this port: Docker's `--dns` takes an address only, so 53. */
  gatewayDnsPort: 53,
  /** Full pass period: repairs hand edits within seconds while a pass (a few `ip -json` reads) stays cheap. */
  reconcileEveryMs: 10_000,
  /** Below this a periodic pass would keep a core busy on a big cluster. */
  minReconcileEveryMs: 50,
  /** A store merge delivers one watch event per key in one turn: a zero window still makes them one pass. */
  debounceMs: 0,
  /** No floor between passes: the kernel state is small and a pass reads it in milliseconds. */
  minIntervalMs: 0,
  /** A failed pass is retried after 1 s, doubling up to one reconcile period (never later than the period, as before the runner). */
  retryBaseMs: 1_000,
  /** ±10 %: nodes that failed together do not retry in lockstep. */
  retryJitter: 0.2,
  /** Per ip/bridge command: a read or a batch takes milliseconds; 10 s means the kernel or the netns is stuck. */
  commandTimeoutMs: 10_000,
  /** Asked for the default route's source when no peer is known; nothing is sent to it. */
  defaultRouteProbe: '1.1.1.1',
} as const;

/** The runner's timing for the overlay's passes, every `everyMs`. */
export function overlayRunnerTimings(everyMs: number): Omit<ReconcileRunnerOptions, 'pass'> {
  return {
    debounceMs: DEFAULTS.debounceMs,
    minIntervalMs: DEFAULTS.minIntervalMs,
    fullEveryMs: everyMs,
    retryBaseMs: Math.min(DEFAULTS.retryBaseMs, everyMs),
    retryMaxMs: everyMs,
    retryJitter: DEFAULTS.retryJitter,
  };
}

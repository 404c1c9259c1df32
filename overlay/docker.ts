// Docker on the overlay: a user-defined bridge network on this node's subnet, using weft's
// bridge, so containers started with `--network weft` get overlay addresses and reach
// containers on other nodes through the routes weft programs.
//
// This file computes the network's create options (dockerode's createNetwork body, the
// same as `docker network create` flags) and, sans-IO, the steps from what the engine holds
// to them; docker-network.ts runs those steps after every overlay pass and periodically.
//
// Why the options are these:
//   - com.docker.network.bridge.name: Docker's bridge driver adopts an existing bridge of
//     that name instead of making its own, so Docker and weft agree on one device. weft
//     keeps the gateway address on it; Docker configures the same one.
//   - subnet = the lease, gateway = its .1 (the bridge's address); Docker's IPAM hands out
//     .2 and up. The .0 address is the node's VTEP, never a container's.
//   - driver.mtu = the VXLAN device's MTU, so containers' packets fit after encapsulation.
//   - enable_ip_masquerade=false: Docker's rule masquerades everything leaving the bridge
//     for another device, which would hide container addresses from the other nodes'
//     containers (they would see this node's VTEP address). Traffic to outside the cluster
//     CIDR gets weft's own masquerade instead (host-rules.ts, flannel's: -s cidr ! -d cidr).
//   - Docker's FORWARD policy DROP (set by dockerd with iptables=true) lets in only
//     replies to connections from the bridge; host-rules.ts accepts overlay to overlay
//     traffic in DOCKER-USER so containers on other nodes can open connections.
import { DEFAULTS } from './defaults.js';
import { formatIPv4, parsePrefix } from './cidr.js';

export interface DockerNetworkPlan {
  Name: string;
  Driver: 'bridge';
  CheckDuplicate: true;
  Attachable: true;
  IPAM: { Driver: 'default'; Config: { Subnet: string; Gateway: string }[] };
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** The create options of the Docker network for `subnet` on `bridge`. */
export function dockerNetworkPlan(o: {
  subnet: string;
  bridge: string;
  mtu: number;
  name?: string;
}): DockerNetworkPlan {
  const p = parsePrefix(o.subnet);
  if (!p) throw new RangeError(`subnet "${o.subnet}" is not an IPv4 prefix`);
  return {
    Name: o.name ?? DEFAULTS.dockerNetwork,
    Driver: 'bridge',
    CheckDuplicate: true,
    Attachable: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: o.subnet, Gateway: formatIPv4(p.base + 1) }] },
    Options: {
      'com.docker.network.bridge.name': o.bridge,
      'com.docker.network.driver.mtu': String(o.mtu),
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
    },
    Labels: { 'weft.overlay.subnet': o.subnet },
  };
}

/** The same as `docker network create` arguments. */
export function dockerNetworkArgs(plan: DockerNetworkPlan): string[] {
  const args = ['network', 'create', '--driver', plan.Driver, '--attachable'];
  for (const c of plan.IPAM.Config) args.push('--subnet', c.Subnet, '--gateway', c.Gateway);
  for (const [k, v] of Object.entries(plan.Options)) args.push('--opt', `${k}=${v}`);
  for (const [k, v] of Object.entries(plan.Labels)) args.push('--label', `${k}=${v}`);
  args.push(plan.Name);
  return args;
}

/** What the engine holds under the network's name (a thin read of `docker network inspect`). */
export interface DockerNetworkActual {
  id: string;
  subnet: string | undefined;
  gateway: string | undefined;
  options: Record<string, string>;
  labels: Record<string, string>;
  /** Containers attached, running or not. */
  containers: { id: string; name: string }[];
}

/** One call to the engine; the adapter runs them in order and stops at the first failure. */
export type DockerNetworkStep =
  | { kind: 'create'; plan: DockerNetworkPlan }
  | { kind: 'disconnect'; network: string; container: string }
  | { kind: 'remove'; network: string }
  | { kind: 'connect'; container: string };

export type DockerNetworkVerdict = 'in-line' | 'missing' | 'moved' | 'foreign' | 'withdrawn';

/** What the keeper wants: the network on the lease, or none at all (the lease was lost and no subnet is free). */
export type DockerNetworkWant = DockerNetworkPlan | 'withdraw';

/** The options that decide whether the network still fits the lease (others are Docker's own). */
const KEY_OPTIONS = ['com.docker.network.bridge.name', 'com.docker.network.driver.mtu'] as const;

/**
 * The steps from what the engine holds to `want` (sans-IO). Missing: create it. Held on
 * another subnet, gateway, bridge or MTU (the lease moved): take every container off,
 * remove it, create it anew and put the containers back (Docker gives them addresses in
 * the new subnet). A network of that name weft did not make (no weft.overlay.subnet
 * label) is someone else's: nothing is touched, the verdict says so.
 *
 * Withdraw: the node lost its subnet to an earlier claim and none is free, so the
 * containers' addresses now belong to another node's subnet; they are taken off and the
 * network removed, so neither they nor a new `docker run --network weft` use them. The
 * caller keeps the containers taken off (`parked`) and passes them back: once a lease
 * returns they are connected to the network on it.
 */
export function planDockerNetwork(
  want: DockerNetworkWant,
  actual: DockerNetworkActual | undefined,
  parked: readonly string[] = [],
): { verdict: DockerNetworkVerdict; steps: DockerNetworkStep[] } {
  if (actual && actual.labels['weft.overlay.subnet'] === undefined) return { verdict: 'foreign', steps: [] };
  const attached = actual?.containers.map((x) => x.id) ?? [];
  if (want === 'withdraw') {
    if (!actual) return { verdict: 'withdrawn', steps: [] };
    return { verdict: 'withdrawn', steps: [...disconnectAll(actual), { kind: 'remove', network: actual.id }] };
  }
  const unpark = parked
    .filter((id) => !attached.includes(id))
    .map((id) => ({ kind: 'connect' as const, container: id }));
  if (!actual) return { verdict: 'missing', steps: [{ kind: 'create', plan: want }, ...unpark] };
  const c = want.IPAM.Config[0];
  const fits =
    actual.subnet === c.Subnet &&
    actual.gateway === c.Gateway &&
    KEY_OPTIONS.every((k) => actual.options[k] === want.Options[k]);
  if (fits) return { verdict: 'in-line', steps: unpark };
  return {
    verdict: 'moved',
    steps: [
      ...disconnectAll(actual),
      { kind: 'remove', network: actual.id },
      { kind: 'create', plan: want },
      ...attached.map((id) => ({ kind: 'connect' as const, container: id })),
      ...unpark,
    ],
  };
}

function disconnectAll(actual: DockerNetworkActual): DockerNetworkStep[] {
  return actual.containers.map((x) => ({ kind: 'disconnect' as const, network: actual.id, container: x.id }));
}

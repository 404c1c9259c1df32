// One container as Docker's inspect shows it -> the endpoint record this node should hold
// for it, or none and why. Pure, so it is tested on inspect output captured from a real
// dockerd (fixtures/) without one running.
//
// Decisions a reader of the records may want to know:
//   - Only a running container has a record. A paused one keeps it: pausing is a short
//     freeze (docker pause, checkpointing), and dropping and re-adding the record would
//     churn every node's DNS and VIP backends for it. A restarting one has none.
//   - Its addresses are its IPv4 and global IPv6 address on each network, sorted, so the
//     order Docker lists networks in does not make a new value. Network mode host: the
//     node's address. Network mode none, or another container's namespace (container:<id>),
//     gives no address of its own and so no record (label the container that owns the
//     namespace instead).
//   - Health is Docker's healthcheck status; 'none' without a healthcheck. A status this
//     code does not know is read as 'starting', which readers do not serve: a check that
//     cannot be understood must not make an endpoint look healthy.
import { isIP } from 'node:net';
import { endpointKey, type EndpointRecord, type Health } from '../records/schema.js';
import { carryCheckStatus } from '../records/checks.js';
import { hasWeftLabels, parseLabels, type LabelProblem } from './labels.js';
import { nameProblem } from '../records/endpoint-tags.js';
import type { TagLabels } from './tag-labels.js';

/** The parts of `docker inspect` output read here; everything optional, as it is external input. */
export interface InspectInfo {
  Id?: string;
  Name?: string;
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean; Health?: { Status?: string } | null } | null;
  Config?: { Labels?: Record<string, string> | null } | null;
  HostConfig?: { NetworkMode?: string } | null;
  NetworkSettings?: {
    Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string } | null> | null;
  } | null;
}

export interface MapContext {
  /** This node's name: the owner in the record's key. */
  node: string;
  /** This node's address, for containers in network mode host. */
  nodeAddr: string | undefined;
  /** Why a literal VIP is refused (labels.ts LabelOptions). */
  checkVip?: (vip: string) => string | undefined;
  /** weft.check.script labels are taken (checks.allowContainerScripts). */
  containerScripts?: boolean;
}

export type Mapped =
  /** Not weft's business: no weft.* labels, or not running. Any record for it goes. */
  | { kind: 'none' }
  /** Meant for weft but unusable: no record; `reason` says why, `problems` lists refused labels. */
  | { kind: 'invalid'; reason: string; problems: LabelProblem[] }
  /** The record to hold; problems are labels that were left out of it. */
  | { kind: 'endpoint'; key: string; record: EndpointRecord; problems: LabelProblem[] };

/** The id as Docker shows it in short form, used in the record key. */
export const shortId = (id: string): string => id.slice(0, 12);

const HEALTH: Record<string, Health> = { healthy: 'healthy', unhealthy: 'unhealthy', starting: 'starting' };

export function healthOf(info: InspectInfo): Health {
  const h = info.State?.Health;
  if (!h || typeof h.Status !== 'string' || h.Status === '' || h.Status === 'none') return 'none';
  return HEALTH[h.Status] ?? 'starting';
}

export function isRunning(info: InspectInfo): boolean {
  return info.State?.Running === true && info.State.Restarting !== true;
}

/** The addresses, or the reason there are none. */
export function addressesOf(info: InspectInfo, nodeAddr: string | undefined): string[] | string {
  const mode = info.HostConfig?.NetworkMode ?? '';
  if (mode === 'host') {
    if (nodeAddr === undefined || isIP(nodeAddr) === 0)
      return 'runs in network mode host, and this node has no address to give it';
    return [nodeAddr];
  }
  if (mode.startsWith('container:'))
    return `shares the network of container ${shortId(mode.slice('container:'.length))}, so it has no address of its own; label that container instead`;
  const addrs = new Set<string>();
  for (const net of Object.values(info.NetworkSettings?.Networks ?? {})) {
    if (!net) continue;
    if (typeof net.IPAddress === 'string' && isIP(net.IPAddress) === 4) addrs.add(net.IPAddress);
    if (typeof net.GlobalIPv6Address === 'string' && isIP(net.GlobalIPv6Address) === 6)
      addrs.add(net.GlobalIPv6Address);
  }
  if (addrs.size === 0)
    return mode === 'none' ? 'runs in network mode none, so it has no address' : 'has no IP address on any network';
  return [...addrs].sort();
}

export function mapContainer(info: InspectInfo, ctx: MapContext): Mapped {
  const labels = info.Config?.Labels;
  if (typeof info.Id !== 'string' || info.Id === '' || !hasWeftLabels(labels) || !isRunning(info))
    return { kind: 'none' };
  const parsed = parseLabels(labels, { checkVip: ctx.checkVip, containerScripts: ctx.containerScripts });
  if (parsed.service === undefined)
    return { kind: 'invalid', reason: 'no usable weft.service label', problems: parsed.problems };
  if (parsed.checksRefused)
    return {
      kind: 'invalid',
      reason: 'a weft.check.* label is refused, so its health cannot be known',
      problems: parsed.problems,
    };
  const addrs = addressesOf(info, ctx.nodeAddr);
  if (typeof addrs === 'string') return { kind: 'invalid', reason: addrs, problems: parsed.problems };
  const ports: EndpointRecord['ports'] = {};
  for (const name of Object.keys(parsed.ports).sort()) ports[name] = parsed.ports[name];
  const record: EndpointRecord = {
    service: parsed.service,
    addrs,
    ports,
    health: healthOf(info),
    vips: parsed.vips,
    source: 'docker',
    container: info.Id,
    ...extrasOf(info, parsed),
  };
  // Checks start critical here; the registrar carries the checker's status over when it writes (registrar.ts).
  if (parsed.checks.length) record.checks = carryCheckStatus(parsed.checks, undefined);
  return {
    kind: 'endpoint',
    key: endpointKey(parsed.service, ctx.node, shortId(info.Id)),
    record,
    problems: parsed.problems,
  };
}

/** Tags and meta when there are any, and the container's name (its DNS instance name) when it is one. */
function extrasOf(info: InspectInfo, parsed: TagLabels): Pick<EndpointRecord, 'tags' | 'meta' | 'name'> {
  const out: Pick<EndpointRecord, 'tags' | 'meta' | 'name'> = {};
  if (parsed.tags.length) out.tags = parsed.tags;
  if (Object.keys(parsed.meta).length) out.meta = parsed.meta;
  const name = typeof info.Name === 'string' ? info.Name.replace(/^\//, '') : '';
  if (!nameProblem(name)) out.name = name;
  return out;
}

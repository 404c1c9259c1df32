// Docker labels -> what an endpoint record says. Pure: no I/O, no logging; the caller
// decides what to do with the problems it reports.
//
// The labels (everything under `weft.` is ours; other labels are ignored):
//
//   weft.service=<name>
//       The service the container is an endpoint of. A DNS label: 1-63 of a-z 0-9 and
//       '-', not starting or ending with '-'. Not lowercased for you: `Web` is refused, so
//       what you wrote is what DNS answers. Without a usable service name the container
//       is left out whole.
//
//   weft.port.<portname>=<port>[/<proto>]
//       A named port, for SRV (_<portname>._<proto>.<service>.svc.<domain>). <portname> is
//       a DNS label, <port> 1-65535, <proto> tcp or udp; tcp when left out.
//         weft.port.http=8080    weft.port.dns=53/udp
//
//   weft.port=<port>[/<proto>]
//       A port with no name of its own: it is named after the service, so its SRV name is
//       _<service>._<proto>.<service>.svc.<domain>.
//
//   weft.vip=<vip>:<port>[/<proto>][-><targetPort>]
//   weft.vip.<n>=...   (any <n> of a-z 0-9 - _, to give one container several VIPs)
//       The container is a backend of VIP <vip> (a name, hashed into the VIP range, or a
//       literal IP; an IPv6 literal goes in brackets: [fd00::1]:80) on <port>/<proto>
//       (tcp when left out). Traffic goes to the container's <targetPort>. Left out, it is
//       the container's one named port of that protocol when it has exactly one (with
//       weft.port.http=8080, weft.vip=web:80 goes to 8080: what the container listens on),
//       else <port>; with several named ports and none of them <port>, the label is
//       reported (write ->PORT to say which).
//         weft.vip=web:80                 web:80/tcp -> container port 80 (no named port)
//         weft.vip.1=web:80->8080         web:80/tcp -> container port 8080
//         weft.vip.2=198.18.0.53:53/udp   198.18.0.53:53/udp -> container port 53
//       A literal IP must be inside lb.vipCidr or lb.vipAllow and not loopback, link-local,
//       multicast, a member's or this node's address (lb/vip-guard.ts), else it is refused.
//       Two labels that bind the same <vip>:<port>/<proto> to different target ports: the
//       first in label-key order wins and the other is reported. Exact repeats are merged.
//
//   weft.tags=<tag>,...   weft.meta.<key>=<value>
//       Tags (DNS labels: <tag>.<service>.svc.<domain>) and meta of the endpoint; see
//       tag-labels.ts for their bounds.
//
// No whitespace is trimmed anywhere: a value with a stray space is refused with a reason,
// not silently read as something else. Any other `weft.*` label is reported as unknown, so
// a typo (weft.prot.http) is seen instead of quietly doing nothing.
import { isIP } from 'node:net';
import { isServiceName, isVipName, type PortSpec, type Proto, type VipBinding } from '../records/schema.js';
import { readTagLabel, type TagLabels } from './tag-labels.js';
import type { CheckDef } from '../records/checks.js';
import { CHECK_PREFIX, readCheckLabels } from './check-labels.js';

export const LABEL_NS = 'weft.';
export const SERVICE_LABEL = 'weft.service';
const PORT_PREFIX = 'weft.port.';
const UNNAMED_PORT_LABEL = 'weft.port';
const VIP_LABEL = 'weft.vip';
const VIP_PREFIX = 'weft.vip.';

/** One label that was refused, and why (for a log line a person reads). */
export interface LabelProblem {
  label: string;
  value: string;
  reason: string;
}

/** tags and meta: weft.tags and weft.meta.<key> (tag-labels.ts). */
export interface ParsedLabels extends TagLabels {
  /** The service name; undefined when it is missing or refused (the container is then left out). */
  service: string | undefined;
  ports: Record<string, PortSpec>;
  vips: VipBinding[];
  problems: LabelProblem[];
  /** weft.check.* (check-labels.ts). */
  checks: CheckDef[];
  /** A weft.check.* label was refused: the container's health cannot be known, so it is left out. */
  checksRefused?: boolean;
}

/** True when any label is in weft's namespace: the container is meant for weft. */
export function hasWeftLabels(labels: Record<string, string> | null | undefined): boolean {
  if (!labels) return false;
  for (const k of Object.keys(labels)) if (k.startsWith(LABEL_NS)) return true;
  return false;
}

const DNS_LABEL_HINT = 'a DNS label: 1-63 of a-z, 0-9 and -, not starting or ending with -';
const VIP_SUFFIX = /^[a-z0-9_-]{1,63}$/;

function parsePort(s: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function parseProto(s: string | undefined): Proto | undefined {
  if (s === undefined) return 'tcp';
  return s === 'tcp' || s === 'udp' ? s : undefined;
}

/** `<port>[/<proto>]`, or the reason it is not. */
export function parsePortSpec(value: string): PortSpec | string {
  const slash = value.indexOf('/');
  const portText = slash < 0 ? value : value.slice(0, slash);
  const protoText = slash < 0 ? undefined : value.slice(slash + 1);
  const port = parsePort(portText);
  if (port === undefined)
    return `port ${JSON.stringify(portText)} is not a number from 1 to 65535 (expected <port>[/tcp|udp])`;
  const proto = parseProto(protoText);
  if (!proto) return `protocol ${JSON.stringify(protoText)} is not tcp or udp`;
  return { port, proto };
}

/**
 * For a VIP binding written without ->targetPort: points it at the one named port of its
 * protocol when there is exactly one (and none equals the VIP port). With several and none
 * the VIP port, it is left at the VIP port and the reason is returned, to be reported.
 */
export function defaultVipTarget(b: VipBinding, ports: Record<string, PortSpec>): string | undefined {
  const named = Object.entries(ports).filter(([, p]) => p.proto === b.proto);
  if (named.length === 0 || named.some(([, p]) => p.port === b.port)) return undefined;
  if (named.length === 1) {
    b.targetPort = named[0]![1].port;
    return undefined;
  }
  return `traffic goes to port ${b.port}, which no named port is; pick one of ${named.map(([n, p]) => `${n} (${p.port})`).join(', ')}`;
}

/** `<vip>:<port>[/<proto>][-><targetPort>]`, or the reason it is not. */
export function parseVipSpec(value: string): VipBinding | string {
  const syntax = 'expected <vip>:<port>[/tcp|udp][-><targetPort>]';
  let rest = value;
  let targetPort: number | undefined;
  const arrow = rest.indexOf('->');
  if (arrow >= 0) {
    const t = rest.slice(arrow + 2);
    targetPort = parsePort(t);
    if (targetPort === undefined) return `target port ${JSON.stringify(t)} is not a number from 1 to 65535`;
    rest = rest.slice(0, arrow);
  }
  let vip: string;
  let portPart: string;
  if (rest.startsWith('[')) {
    // An IPv6 literal has colons of its own, so it is bracketed as in a URL.
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') return `no ]:<port> after the bracketed address (${syntax})`;
    vip = rest.slice(1, close);
    if (isIP(vip) !== 6) return `${JSON.stringify(vip)} in brackets is not an IPv6 address`;
    portPart = rest.slice(close + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) return `no :<port> (${syntax})`;
    vip = rest.slice(0, colon);
    portPart = rest.slice(colon + 1);
    if (vip.includes(':'))
      return `${JSON.stringify(vip)} looks like an IPv6 address: write it in brackets, [${vip}]:<port>`;
    if (!isVipName(vip)) return `VIP ${JSON.stringify(vip)} is neither ${DNS_LABEL_HINT} nor an IP address`;
  }
  const spec = parsePortSpec(portPart);
  if (typeof spec === 'string') return `${spec} (${syntax})`;
  return { vip, port: spec.port, proto: spec.proto, targetPort: targetPort ?? spec.port };
}

/**
 * weft.port=<port>[/<proto>]: a port with no name of its own is named after the service, so
 * its SRV name is _<service>._<proto>.<service>.svc.<domain> (README, "SRV convention").
 */
function nameUnnamedPort(
  value: string | undefined,
  out: ParsedLabels,
  problem: (label: string, value: string, reason: string) => void,
): void {
  if (value === undefined || out.service === undefined) return;
  const spec = parsePortSpec(value);
  if (typeof spec === 'string') problem(UNNAMED_PORT_LABEL, value, spec);
  else if (out.ports[out.service])
    problem(UNNAMED_PORT_LABEL, value, `weft.port.${out.service} names the same port; give one of them`);
  else out.ports[out.service] = spec;
}

const sameBinding = (a: VipBinding, b: VipBinding): boolean =>
  a.vip === b.vip && a.port === b.port && a.proto === b.proto;

export interface LabelOptions {
  /**
   * Why a VIP (a literal IP) may not be one (lb/vip-guard.ts: loopback, a member's
   * address, outside the VIP ranges...), or undefined. The label is then a problem.
   */
  checkVip?: (vip: string) => string | undefined;
  /** weft.check.script is taken, to run inside the container (check-labels.ts). */
  containerScripts?: boolean;
}

/** A VIP label that left out ->targetPort: resolved against the named ports once all are read. */
type ImplicitTarget = { b: VipBinding; label: string; value: string };

/** weft.vip or weft.vip.<n>: a binding added to `out`, or a problem; a later label may not rebind a VIP to another port. */
function readVipLabel(
  out: ParsedLabels,
  label: string,
  value: string,
  opts: LabelOptions,
  implicit: ImplicitTarget[],
): void {
  const problem = (reason: string) => out.problems.push({ label, value, reason });
  if (label !== VIP_LABEL && !VIP_SUFFIX.test(label.slice(VIP_PREFIX.length))) {
    problem('expected weft.vip or weft.vip.<n> with <n> of a-z, 0-9, - and _');
    return;
  }
  const b = parseVipSpec(value);
  if (typeof b === 'string') {
    problem(b);
    return;
  }
  const refused = opts.checkVip?.(b.vip);
  if (refused) {
    problem(refused);
    return;
  }
  const clash = out.vips.find((v) => sameBinding(v, b));
  if (!clash) {
    out.vips.push(b);
    if (!value.includes('->')) implicit.push({ b, label, value });
  } else if (clash.targetPort !== b.targetPort) {
    problem(
      `${b.vip}:${b.port}/${b.proto} is already bound to target port ${clash.targetPort} by another weft.vip label`,
    );
  }
}

/**
 * Reads a container's labels. Never throws: each refused label is a problem, and the rest
 * are still used. Labels are visited in key order so the outcome (which of two clashing
 * VIP labels wins) does not depend on how Docker ordered them.
 */
export function parseLabels(labels: Record<string, string> | null | undefined, opts: LabelOptions = {}): ParsedLabels {
  const out: ParsedLabels = { service: undefined, ports: {}, vips: [], problems: [], tags: [], meta: {}, checks: [] };
  if (!labels) return out;
  const problem = (label: string, value: string, reason: string) => out.problems.push({ label, value, reason });
  const keys = Object.keys(labels)
    .filter((k) => k.startsWith(LABEL_NS))
    .sort();
  let sawService = false;
  /** VIP labels that left out ->targetPort: resolved against the named ports at the end. */
  const implicit: ImplicitTarget[] = [];
  for (const label of keys) {
    const value = labels[label];
    if (typeof value !== 'string') continue;
    if (label === SERVICE_LABEL) {
      sawService = true;
      if (isServiceName(value)) out.service = value;
      else problem(label, value, `service name must be ${DNS_LABEL_HINT}; the container is left out`);
    } else if (label.startsWith(PORT_PREFIX)) {
      const name = label.slice(PORT_PREFIX.length);
      if (!isServiceName(name)) {
        problem(label, value, `port name ${JSON.stringify(name)} must be ${DNS_LABEL_HINT}`);
        continue;
      }
      const spec = parsePortSpec(value);
      if (typeof spec === 'string') problem(label, value, spec);
      else out.ports[name] = spec;
    } else if (label === VIP_LABEL || label.startsWith(VIP_PREFIX)) {
      readVipLabel(out, label, value, opts, implicit);
    } else if (
      label !== UNNAMED_PORT_LABEL &&
      !label.startsWith(CHECK_PREFIX) &&
      !readTagLabel(label, value, out, problem)
    ) {
      // (weft.check.* labels are read together below: the settings apply to every check.)
      problem(
        label,
        value,
        'unknown weft label (known: weft.service, weft.port, weft.port.<name>, weft.vip, weft.vip.<n>, weft.tags, weft.meta.<key>, weft.check.*)',
      );
    }
  }
  nameUnnamedPort(labels[UNNAMED_PORT_LABEL], out, problem);
  readCheckLabels(labels, out, { containerScripts: opts.containerScripts });
  for (const { b, label, value } of implicit) {
    const ambiguous = defaultVipTarget(b, out.ports);
    if (ambiguous) problem(label, value, `${ambiguous}; write ${value}->PORT`);
  }
  if (!sawService && keys.length > 0)
    problem(SERVICE_LABEL, '', 'missing: the container has weft.* labels but no weft.service, so it is left out');
  return out;
}

// A minimal hand-driven setup for the core's unit tests: build a core, feed it messages
// as if from named peers, run its timers up to a time, and pick apart what it sent.
// (props/sim is the full world; these tests want single, inspectable steps.)

import type { Alive, Dead, NodeAddress, PacketMessage, Suspect } from '../messages.js';
import { makeConfig, type SwimConfig } from './config.js';
import type { Endpoint, MemberEventOutput, Output, PacketOutput, StreamOutput } from './outputs.js';
import { Xoshiro128 } from '../../base/rng.js';
import { SwimCore } from './swim.js';
import type { MemberAuth } from './member-auth.js';

const PORT = 7946;

/** Deterministic address per name, so tests can say `addrOf('b')`. */
export function addrOf(name: string): NodeAddress {
  // FNV-1a, then spread into 10.x.y.z; distinct for the short names tests use.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return { name, addr: `10.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}`, port: PORT };
}

export function endpointOf(name: string): Endpoint {
  const a = addrOf(name);
  return { addr: a.addr, port: a.port };
}

export interface HarnessOptions {
  config?: Partial<SwimConfig>;
  now?: number;
  seed?: number;
  meta?: Uint8Array;
  incarnation?: number;
  /** Signed membership (member-auth.ts). */
  auth?: MemberAuth;
  /** Cluster-aligned probe rounds (probe-ring.ts), as the daemon runs. */
  alignedProbing?: boolean;
}

export function makeCore(name = 'self', opts: HarnessOptions = {}): SwimCore {
  return new SwimCore({
    self: addrOf(name),
    config: makeConfig('lan', opts.config ?? {}),
    rng: new Xoshiro128(opts.seed ?? 42),
    now: opts.now ?? 0,
    meta: opts.meta,
    incarnation: opts.incarnation,
    auth: opts.auth,
    alignedProbing: opts.alignedProbing,
  });
}

export function alive(name: string, incarnation: number, meta = new Uint8Array(0), address = addrOf(name)): Alive {
  return { t: 'alive', incarnation, node: { ...address, name }, meta };
}

export function suspect(name: string, incarnation: number, from: string): Suspect {
  return { t: 'suspect', incarnation, node: name, from };
}

export function dead(name: string, incarnation: number, from: string): Dead {
  return { t: 'dead', incarnation, node: name, from };
}

/** Make `core` know `names` as alive at incarnation 1 (outputs discarded). */
export function withPeers(core: SwimCore, names: readonly string[], now = 0): void {
  for (const n of names) core.receive(now, endpointOf(n), alive(n, 1));
  core.takeOutputs();
}

/**
 * Fire every timer up to and including `until`, collecting the outputs. Peers answer
 * like a healthy network would, at once: a ping is acked by its target, a ping-req by
 * its target through the relay (or nacked if the target is silent). Peers named in
 * `silent` answer nothing. The fake peers never react to gossip, so a suspected peer
 * does not refute unless the test makes it.
 */
export function runTimers(
  core: SwimCore,
  until: number,
  silent: ReadonlySet<string> = new Set(),
  /** Every wake-up comes this much after the deadline asked for, as a real timer does. */
  lateMs = 0,
): Output[] {
  const out: Output[] = [];
  for (;;) {
    const d = core.nextDeadline() + lateMs;
    if (d > until) break;
    core.tick(d);
    const produced = core.takeOutputs();
    out.push(...produced);
    answer(core, d, produced, silent, out);
  }
  return out;
}

function answer(core: SwimCore, now: number, produced: Output[], silent: ReadonlySet<string>, sink: Output[]): void {
  const byEndpoint = new Map<string, string>();
  for (const m of core.members()) byEndpoint.set(`${m.addr}:${m.port}`, m.name);
  for (const o of produced) {
    if (o.kind !== 'packet') continue;
    const peer = byEndpoint.get(`${o.to.addr}:${o.to.port}`);
    if (!peer || silent.has(peer)) continue;
    for (const m of o.msgs) {
      if (m.t === 'ping' && m.target === peer) {
        core.receive(now, o.to, { t: 'ack', seq: m.seq });
      } else if (m.t === 'ping-req') {
        const reply = silent.has(m.target.name)
          ? { t: 'nack' as const, seq: m.seq }
          : { t: 'ack' as const, seq: m.seq };
        core.receive(now, o.to, reply);
      }
    }
    sink.push(...core.takeOutputs());
  }
}

export function packets(outputs: readonly Output[]): PacketOutput[] {
  return outputs.filter((o): o is PacketOutput => o.kind === 'packet');
}

export function streams(outputs: readonly Output[]): StreamOutput[] {
  return outputs.filter((o): o is StreamOutput => o.kind === 'stream');
}

export function events(outputs: readonly Output[]): MemberEventOutput[] {
  return outputs.filter((o): o is MemberEventOutput => o.kind === 'event');
}

export function messages(outputs: readonly Output[]): PacketMessage[] {
  return packets(outputs).flatMap((p) => p.msgs);
}

/** Packets whose first message has type `t`. */
export function packetsLedBy(outputs: readonly Output[], t: PacketMessage['t']): PacketOutput[] {
  return packets(outputs).filter((p) => p.msgs[0]?.t === t);
}

export function isTo(o: { to: Endpoint }, name: string): boolean {
  const e = endpointOf(name);
  return o.to.addr === e.addr && o.to.port === e.port;
}

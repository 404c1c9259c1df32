// The simulated network between hosts: datagrams that may be lost, delayed, duplicated
// or reordered per link, streams that are reliable but delayed, and partitions of any
// shape. Rules are stated between host ids, so they follow a host across a restart at a
// new address; packets are routed by address, so a packet to an old address reaches
// whoever lives there now (as in memberlist#222).

import type { Endpoint } from '../../membership/core/outputs.js';
import type { Rng } from '../../base/rng.js';
import type { SimHost } from './host.js';
import { lan, type Latency } from './latency.js';
import type { Scheduler } from './scheduler.js';

export interface LinkProfile {
  /** Probability a datagram is dropped. */
  loss: number;
  /** One-way delay. */
  latency: Latency;
  /** Probability a datagram is delivered twice (the copy with its own delay). */
  duplicate: number;
  /** Probability a datagram is held back by an extra uniform delay in [0, reorderDelayMs). */
  reorder: number;
  reorderDelayMs: number;
}

export const DEFAULT_LINK: LinkProfile = { loss: 0, latency: lan, duplicate: 0, reorder: 0, reorderDelayMs: 5 };

export interface TrafficCounters {
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  packetsDropped: number;
  streamsOut: number;
  streamBytesOut: number;
  streamBytesIn: number;
  streamsFailed: number;
}

function zeroCounters(): TrafficCounters {
  return {
    packetsOut: 0,
    bytesOut: 0,
    packetsIn: 0,
    bytesIn: 0,
    packetsDropped: 0,
    streamsOut: 0,
    streamBytesOut: 0,
    streamBytesIn: 0,
    streamsFailed: 0,
  };
}

export class SimNetwork {
  private readonly hostsByAddr = new Map<string, SimHost>();
  /** Per-link rules as set; linkOverrides caches them merged with the default and host rules. */
  private readonly explicitLinks = new Map<string, Partial<LinkProfile>>();
  private readonly linkOverrides = new Map<string, LinkProfile>();
  private readonly hostOverrides = new Map<string, Partial<LinkProfile>>();
  private readonly blocked = new Set<string>();
  private groups: Map<string, number> | undefined;
  private healedAt = -Infinity;
  private readonly traffic = new Map<string, TrafficCounters>();
  profile: LinkProfile;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    profile: Partial<LinkProfile> = {},
  ) {
    this.profile = { ...DEFAULT_LINK, ...profile };
  }

  // ------------------------------------------------------------ topology

  attach(host: SimHost): void {
    this.hostsByAddr.set(host.addr, host);
  }

  /** Re-home a host at a new address (a restart elsewhere). */
  move(host: SimHost, addr: string): void {
    if (this.hostsByAddr.get(host.addr) === host) this.hostsByAddr.delete(host.addr);
    host.addr = addr;
    this.hostsByAddr.set(addr, host);
  }

  hostAt(addr: string): SimHost | undefined {
    return this.hostsByAddr.get(addr);
  }

  // ------------------------------------------------------------ faults

  /** Change the default link for everyone (e.g. 5 % loss everywhere). */
  setDefault(profile: Partial<LinkProfile>): void {
    this.profile = { ...this.profile, ...profile };
    this.linkOverrides.clear(); // derived profiles are rebuilt lazily
  }

  /** Override the link from host `fromId` to host `toId` (one direction). */
  setLink(fromId: string, toId: string, profile: Partial<LinkProfile>): void {
    const key = `${fromId}>${toId}`;
    this.explicitLinks.set(key, { ...(this.explicitLinks.get(key) ?? {}), ...profile });
    this.linkOverrides.clear();
  }

  /** Override every link to and from a host (a bad NIC). */
  setHost(id: string, profile: Partial<LinkProfile>): void {
    this.hostOverrides.set(id, { ...(this.hostOverrides.get(id) ?? {}), ...profile });
    this.linkOverrides.clear();
  }

  clearLinks(): void {
    this.linkOverrides.clear();
    this.explicitLinks.clear();
    this.hostOverrides.clear();
  }

  /** Hosts in different groups cannot reach each other; hosts in no group form one more group. */
  partition(groups: readonly (readonly string[])[]): void {
    const map = new Map<string, number>();
    groups.forEach((g, i) => g.forEach((id) => map.set(id, i)));
    this.groups = map;
  }

  /** Cut one direction only (asymmetric failures). */
  block(fromId: string, toId: string): void {
    this.blocked.add(`${fromId}>${toId}`);
  }

  /** Remove every partition and block. */
  heal(): void {
    if (this.groups) this.healedAt = this.scheduler.now;
    this.groups = undefined;
    this.blocked.clear();
  }

  /** The last time a partition was in force: now while one is, -Infinity if never. */
  get lastPartitioned(): number {
    return this.groups ? this.scheduler.now : this.healedAt;
  }

  reachable(fromId: string, toId: string): boolean {
    if (fromId === toId) return true;
    if (this.groups) {
      const a = this.groups.get(fromId) ?? -1;
      const b = this.groups.get(toId) ?? -1;
      if (a !== b) return false;
    }
    return this.blocked.size === 0 || !this.blocked.has(`${fromId}>${toId}`);
  }

  // ------------------------------------------------------------ traffic

  counters(hostId: string): TrafficCounters {
    let c = this.traffic.get(hostId);
    if (!c) {
      c = zeroCounters();
      this.traffic.set(hostId, c);
    }
    return c;
  }

  sendDatagram(src: SimHost, srcPort: number, to: Endpoint, payload: unknown, bytes: number): void {
    const out = this.counters(src.id);
    out.packetsOut++;
    out.bytesOut += bytes;
    const dst = this.hostsByAddr.get(to.addr);
    if (!dst || !this.reachable(src.id, dst.id)) {
      out.packetsDropped++;
      return;
    }
    const link = this.linkProfile(src.id, dst.id);
    if (link.loss > 0 && this.rng.next() < link.loss) {
      out.packetsDropped++;
      return;
    }
    const from: Endpoint = { addr: src.addr, port: srcPort };
    this.scheduleDatagram(src.id, from, to, payload, bytes, link);
    if (link.duplicate > 0 && this.rng.next() < link.duplicate)
      this.scheduleDatagram(src.id, from, to, payload, bytes, link);
  }

  /**
   * Reliable request/response over a stream: delivered after a handshake and a one-way
   * delay unless the hosts cannot reach each other; the reply, if the receiving app
   * returns one, travels back the same way. Nothing is delivered to a crashed sender.
   */
  openStream(
    src: SimHost,
    srcPort: number,
    to: Endpoint,
    payload: unknown,
    bytes: number,
    replyBytes: (reply: unknown) => number,
  ): void {
    const out = this.counters(src.id);
    out.streamsOut++;
    out.streamBytesOut += bytes;
    const dst = this.hostsByAddr.get(to.addr);
    if (!dst || dst.status === 'down' || !this.reachable(src.id, dst.id) || !this.reachable(dst.id, src.id)) {
      out.streamsFailed++;
      return;
    }
    const link = this.linkProfile(src.id, dst.id);
    const back = this.linkProfile(dst.id, src.id);
    const from: Endpoint = { addr: src.addr, port: srcPort };
    const srcEpoch = src.epoch;
    const dstEpoch = dst.epoch;
    const handshake = link.latency(this.rng) + back.latency(this.rng);
    this.scheduler.after(handshake + link.latency(this.rng), () => {
      if (dst.epoch !== dstEpoch || !this.reachable(src.id, dst.id)) {
        out.streamsFailed++;
        return;
      }
      dst.deliver(() => {
        const app = dst.app(to.port);
        if (!app) return;
        this.counters(dst.id).streamBytesIn += bytes;
        const reply = app.stream(dst.now, from, payload);
        dst.touch(to.port);
        if (reply === undefined) return;
        const rb = replyBytes(reply);
        this.counters(dst.id).streamBytesOut += rb;
        const replyFrom: Endpoint = { addr: dst.addr, port: to.port };
        this.scheduler.after(back.latency(this.rng), () => {
          if (src.epoch !== srcEpoch || !this.reachable(dst.id, src.id)) return;
          src.deliver(() => {
            const origin = src.app(srcPort);
            if (!origin) return;
            this.counters(src.id).streamBytesIn += rb;
            origin.streamReply(src.now, replyFrom, reply);
            src.touch(srcPort);
          });
        });
      });
    });
  }

  private scheduleDatagram(
    srcId: string,
    from: Endpoint,
    to: Endpoint,
    payload: unknown,
    bytes: number,
    link: LinkProfile,
  ): void {
    let delay = link.latency(this.rng);
    if (link.reorder > 0 && this.rng.next() < link.reorder) delay += this.rng.next() * link.reorderDelayMs;
    this.scheduler.after(delay, () => {
      const dst = this.hostsByAddr.get(to.addr);
      // Partitions that begin while a packet is in flight catch it too.
      if (!dst || !this.reachable(srcId, dst.id)) {
        this.counters(srcId).packetsDropped++;
        return;
      }
      dst.deliver(() => {
        const app = dst.app(to.port);
        if (!app) return;
        const c = this.counters(dst.id);
        c.packetsIn++;
        c.bytesIn += bytes;
        app.datagram(dst.now, from, payload);
        dst.touch(to.port);
      });
    });
  }

  private linkProfile(fromId: string, toId: string): LinkProfile {
    if (this.hostOverrides.size === 0 && this.explicitLinks.size === 0) return this.profile;
    const key = `${fromId}>${toId}`;
    let p = this.linkOverrides.get(key);
    if (!p) {
      p = {
        ...this.profile,
        ...(this.hostOverrides.get(fromId) ?? {}),
        ...(this.hostOverrides.get(toId) ?? {}),
        ...(this.explicitLinks.get(key) ?? {}),
      };
      this.linkOverrides.set(key, p);
    }
    return p;
  }
}

// Everything the core sends passes through here. During one input the protocol queues
// messages per destination; flush() then turns each destination's messages into as few
// datagrams as fit udpPayload and fills the room left with gossip from the broadcast
// queue (piggybacking). A message too large for any datagram becomes a stream output:
// it is never dropped, unlike memberlist's oversized payloads.

import type { Message, PacketMessage } from '../messages.js';
import type { BroadcastQueue } from './broadcast-queue.js';
import type { SwimConfig } from './config.js';
import type { Endpoint, Output } from './outputs.js';
import type { MeasureFn } from './size.js';

export interface TrafficCounters {
  packetsOut: number;
  bytesOut: number;
  streamsOut: number;
  oversizeToStream: number;
}

function endpointKey(e: Endpoint): string {
  return `${e.addr}:${e.port}`;
}

export class Outbox {
  private readonly pending = new Map<string, { to: Endpoint; msgs: PacketMessage[] }>();
  private outputs: Output[] = [];

  constructor(
    private readonly config: SwimConfig,
    private readonly queue: BroadcastQueue,
    /** Size of a message built for one packet (pings, acks). */
    private readonly sizeOf: MeasureFn,
    /** The current gossip transmit limit (it depends on N). */
    private readonly transmitLimit: () => number,
    private readonly counters: TrafficCounters,
    /**
     * Whether gossip may ride on a packet to `to`. Each piggybacked copy counts against
     * the transmit limit, so copies sent to a node that is probably dead (a suspect, or a
     * relay's ping to a crashed target) are copies the live members never get.
     */
    private readonly piggybackTo: (to: Endpoint) => boolean = () => true,
  ) {}

  /** Bytes of messages a datagram can carry. */
  get budget(): number {
    return this.config.udpPayload - this.config.packetOverhead;
  }

  /** Queue messages for `to`; they leave at the next flush(), together with gossip. */
  send(to: Endpoint, msgs: PacketMessage[]): void {
    const pending = this.pending.get(endpointKey(to));
    if (pending) pending.msgs.push(...msgs);
    else this.pending.set(endpointKey(to), { to: { addr: to.addr, port: to.port }, msgs });
  }

  /** Messages already queued for `to` in this input. */
  queuedFor(to: Endpoint): readonly PacketMessage[] {
    return this.pending.get(endpointKey(to))?.msgs ?? [];
  }

  /**
   * Turn what was queued during this input into datagrams. Runs after the whole input is
   * processed, so an ack answering a buddy-system suspicion already carries the
   * refutation, and several replies to one peer share a datagram.
   */
  flush(): void {
    if (this.pending.size === 0) return;
    const budget = this.budget;
    const per = this.config.messageOverhead;
    for (const { to, msgs } of this.pending.values()) this.flushTo(to, msgs, budget, per);
    this.pending.clear();
  }

  /** One peer's queued replies as full datagrams; the last one takes gossip piggybacked. */
  private flushTo(to: Endpoint, msgs: PacketMessage[], budget: number, per: number): void {
    let batch: PacketMessage[] = [];
    let used = 0;
    for (const msg of msgs) {
      const cost = this.sizeOf(msg) + per;
      if (cost > budget) {
        this.counters.oversizeToStream++;
        this.stream(to, msg);
        continue;
      }
      if (used + cost > budget) {
        this.packet(to, batch, used);
        batch = [];
        used = 0;
      }
      batch.push(msg);
      used += cost;
    }
    if (batch.length === 0) return;
    if (this.queue.size > 0 && this.piggybackTo(to)) {
      const extra: PacketMessage[] = [];
      used += this.queue.take(budget - used, per, this.transmitLimit(), extra);
      for (const m of extra) if (!batch.includes(m)) batch.push(m);
    }
    this.packet(to, batch, used);
  }

  /**
   * A datagram of gossip only, as full as the queue allows; false when the queue had
   * nothing. The updates about the nodes in `first` go in before any other.
   */
  gossip(to: Endpoint, first: readonly string[] = []): boolean {
    const msgs: PacketMessage[] = [];
    const bytes = this.queue.take(this.budget, this.config.messageOverhead, this.transmitLimit(), msgs, first);
    if (msgs.length === 0) return false;
    this.packet(to, msgs, bytes);
    return true;
  }

  stream(to: Endpoint, msg: Message): void {
    this.counters.streamsOut++;
    this.outputs.push({ kind: 'stream', to: { addr: to.addr, port: to.port }, msg });
  }

  /** Any other output (events, user payloads, left), in order with the traffic. */
  push(output: Output): void {
    this.outputs.push(output);
  }

  take(): Output[] {
    const out = this.outputs;
    this.outputs = [];
    return out;
  }

  /** `payloadBytes`: the messages' sizes plus per-message overheads, as packed. */
  private packet(to: Endpoint, msgs: PacketMessage[], payloadBytes: number): void {
    const bytes = this.config.packetOverhead + payloadBytes;
    this.counters.packetsOut++;
    this.counters.bytesOut += bytes;
    this.outputs.push({ kind: 'packet', to: { addr: to.addr, port: to.port }, msgs, bytes });
  }
}

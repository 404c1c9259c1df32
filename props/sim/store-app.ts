// Drives a StoreCore on a simulated host exactly as the daemon's driver drives it on a
// real one: inputs in, outputs routed after every call, wake-ups at nextDeadline(), and
// the journal's buffered appends written (not synced) after each, as at the end of a
// real event-loop turn.

import type { StoreCore, StoreOutput } from '../../crdt-store/replication/core.js';
import type { Journal } from '../../crdt-store/persist/journal.js';
import type { SimApp, SimHost } from './host.js';
import type { SimNetwork } from './network.js';

export interface StoreAppHooks {
  onOutput?(host: SimHost, output: StoreOutput, now: number): void;
}

export class StoreApp implements SimApp {
  constructor(
    readonly core: StoreCore,
    readonly journal: Journal | undefined,
    private readonly host: SimHost,
    private readonly port: number,
    private readonly network: SimNetwork,
    private readonly hooks: StoreAppHooks = {},
  ) {}

  datagram(now: number, from: { addr: string; port: number }, payload: unknown): void {
    const o = payload as StoreOutput;
    this.core.receivePacket(now, from, o.shared ?? o.bytes);
    this.drain(now);
  }

  stream(now: number, from: { addr: string; port: number }, payload: unknown): unknown {
    const o = payload as StoreOutput;
    const reply = this.core.receiveStream(now, from, o.shared ?? o.bytes);
    this.drain(now);
    return reply;
  }

  streamReply(now: number, from: { addr: string; port: number }, payload: unknown): void {
    this.core.receiveStreamReply(now, from, payload as Uint8Array);
    this.drain(now);
  }

  wake(now: number): void {
    this.core.tick(now);
    this.drain(now);
  }

  nextDeadline(): number {
    return this.core.nextDeadline();
  }

  /** Route whatever the core produced; call after driving the core (or its store) directly. */
  drain(now: number): void {
    for (const o of this.core.takeOutputs(now)) {
      // The output itself travels: its bytes, or its message when the core shares them.
      const size = o.shared?.size ?? o.bytes.length;
      if (o.kind === 'packet') this.network.sendDatagram(this.host, this.port, o.to, o, size);
      else this.network.openStream(this.host, this.port, o.to, o, size, (r) => (r as Uint8Array).length);
      this.hooks.onOutput?.(this.host, o, now);
    }
    this.journal?.flush();
    this.host.touch(this.port);
  }
}

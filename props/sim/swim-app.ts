// Drives a SwimCore on a simulated host exactly as the daemon's UDP/TCP adapter drives it
// on a real one: inputs in, outputs drained after every call, wake-ups at nextDeadline().

import type { Message, PacketMessage, PushPull } from '../../membership/messages.js';
import type { MemberEventOutput, Output } from '../../membership/core/outputs.js';
import { defaultMeasure, type MeasureFn } from '../../membership/core/size.js';
import type { SwimCore } from '../../membership/core/swim.js';
import { entrySize } from './entry-size.js';
import type { SimApp, SimHost } from './host.js';
import type { SimNetwork } from './network.js';

export interface SwimAppHooks {
  onEvent?(host: SimHost, event: MemberEventOutput, now: number): void;
  onOutput?(host: SimHost, output: Output, now: number): void;
}

/**
 * Bytes of a stream message by the default measure. A push-pull is summed entry by
 * entry, each worked out from its fields (entrySize), so a 1,000-member sync costs
 * arithmetic, not an encode. Within a few bytes of encoding the whole message.
 */
export function defaultStreamSize(msg: Message): number {
  if (msg.t !== 'push-pull') return defaultMeasure(msg);
  let bytes = 24; // the envelope: type tag, join flag, array header
  for (const s of msg.states) bytes += entrySize(s);
  return bytes;
}

export class SwimApp implements SimApp {
  constructor(
    readonly core: SwimCore,
    private readonly host: SimHost,
    private readonly port: number,
    private readonly network: SimNetwork,
    private readonly hooks: SwimAppHooks = {},
    private readonly streamSize: MeasureFn = defaultStreamSize,
  ) {}

  datagram(now: number, from: { addr: string; port: number }, payload: unknown): void {
    this.core.receive(now, from, payload as PacketMessage[]);
    this.drain(now);
  }

  stream(now: number, from: { addr: string; port: number }, payload: unknown): unknown {
    const reply = this.core.receiveStream(now, from, payload as Message);
    this.drain(now);
    return reply;
  }

  streamReply(now: number, from: { addr: string; port: number }, payload: unknown): void {
    this.core.receiveStreamReply(now, from, payload as PushPull);
    this.drain(now);
  }

  wake(now: number): void {
    this.core.tick(now);
    this.drain(now);
  }

  nextDeadline(): number {
    return this.core.nextDeadline();
  }

  /** Route whatever the core produced; call after driving the core directly. */
  drain(now: number): void {
    const outputs = this.core.takeOutputs();
    for (const o of outputs) {
      switch (o.kind) {
        case 'packet':
          this.network.sendDatagram(this.host, this.port, o.to, o.msgs, o.bytes);
          break;
        case 'stream':
          this.network.openStream(this.host, this.port, o.to, o.msg, this.streamSize(o.msg), (r) =>
            this.streamSize(r as Message),
          );
          break;
        case 'event':
          this.hooks.onEvent?.(this.host, o, now);
          break;
        default:
          break;
      }
      this.hooks.onOutput?.(this.host, o, now);
    }
  }
}

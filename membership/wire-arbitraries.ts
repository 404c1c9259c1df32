// fast-check generators of valid SWIM messages, for the wire tests and for anyone in
// props/ who needs realistic traffic. Each generator covers the edges the validator
// allows (empty and 512-byte meta, 255-char names, IPv6, seqs up to 2^53-1, incarnations
// up to MAX_INCARNATION).

import fc from 'fast-check';
import { MAX_INCARNATION, MAX_META_BYTES } from './messages.js';
import type { Message, NodeAddress, PacketMessage, PushNodeState } from './messages.js';
import { MAX_NAME_LENGTH } from './validate.js';

export const arbName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/) },
  {
    weight: 1,
    arbitrary: fc
      .string({ minLength: 1, maxLength: MAX_NAME_LENGTH, unit: 'grapheme-composite' })
      .filter((s) => s.length <= MAX_NAME_LENGTH),
  },
);

export const arbAddr: fc.Arbitrary<string> = fc.oneof(fc.ipV4(), fc.ipV6());
export const arbPort: fc.Arbitrary<number> = fc.integer({ min: 1, max: 65535 });
export const arbCounter: fc.Arbitrary<number> = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat());
export const arbIncarnation: fc.Arbitrary<number> = fc.oneof(
  fc.nat({ max: 1000 }),
  fc.nat({ max: MAX_INCARNATION }),
  fc.constant(MAX_INCARNATION),
);
export const arbMeta: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: MAX_META_BYTES });

export const arbNodeAddress: fc.Arbitrary<NodeAddress> = fc.record({ name: arbName, addr: arbAddr, port: arbPort });

export const arbPacketMessage: fc.Arbitrary<PacketMessage> = fc.oneof(
  fc.record({ t: fc.constant('ping' as const), seq: arbCounter, target: arbName, source: arbNodeAddress }),
  fc.record({
    t: fc.constant('ping-req' as const),
    seq: arbCounter,
    target: arbNodeAddress,
    nack: fc.boolean(),
    source: arbNodeAddress,
  }),
  fc.record({ t: fc.constant('ack' as const), seq: arbCounter, payload: arbMeta }, { requiredKeys: ['t', 'seq'] }),
  fc.record({ t: fc.constant('nack' as const), seq: arbCounter }),
  fc.record({ t: fc.constant('alive' as const), incarnation: arbIncarnation, node: arbNodeAddress, meta: arbMeta }),
  fc.record({ t: fc.constant('suspect' as const), incarnation: arbIncarnation, node: arbName, from: arbName }),
  fc.record({ t: fc.constant('dead' as const), incarnation: arbIncarnation, node: arbName, from: arbName }),
  fc.record({ t: fc.constant('user' as const), data: fc.uint8Array({ maxLength: 600 }) }),
);

export const arbPushNodeState: fc.Arbitrary<PushNodeState> = fc.record({
  node: arbNodeAddress,
  incarnation: arbIncarnation,
  state: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const),
  meta: arbMeta,
});

export const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  { weight: 8, arbitrary: arbPacketMessage },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('push-pull' as const),
      join: fc.boolean(),
      states: fc.array(arbPushNodeState, { maxLength: 20 }),
    }),
  },
);

/** The compound the core sends most: a probe with five piggybacked alive updates. */
export function typicalCompound(): PacketMessage[] {
  const node = (i: number): NodeAddress => ({ name: `node-${i}`, addr: `10.0.${i >> 8}.${i & 255}`, port: 7946 });
  const msgs: PacketMessage[] = [{ t: 'ping', seq: 123456, target: 'node-42', source: node(7) }];
  for (let i = 0; i < 5; i++) {
    msgs.push({ t: 'alive', incarnation: 3 + i, node: node(100 + i), meta: new Uint8Array(24).fill(i) });
  }
  return msgs;
}

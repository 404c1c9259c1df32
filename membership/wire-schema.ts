// The positional layout of each message on the wire.
//
// Messages travel as msgpack arrays, [typeCode, field, field, ...], not as maps with
// field names: an alive message is ~27 bytes instead of ~70, and gossip bandwidth per
// member is one of the figures weft is judged on against serf. The price is that the
// layout is fixed by the wire version: adding a field means a new version byte in
// codec.ts, and this file is the single place that knows the order of fields.
//
// fromWire only rebuilds the objects; validate.ts judges their contents.

import type { MemberState, Message, NodeAddress, PushNodeState } from './messages.js';
import { checkMessage } from './validate.js';

const TYPE_CODES = {
  ping: 0,
  'ping-req': 1,
  ack: 2,
  nack: 3,
  alive: 4,
  suspect: 5,
  dead: 6,
  user: 7,
  'push-pull': 8,
} as const satisfies Record<Message['t'], number>;

const STATE_CODES = { alive: 0, suspect: 1, dead: 2, left: 3 } as const satisfies Record<MemberState, number>;
const STATES_BY_CODE: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

type WireAddress = [name: string, addr: string, port: number];

function addressToWire(a: NodeAddress): WireAddress {
  return [a.name, a.addr, a.port];
}

// Signed membership (issue 13) appends optional trailing fields: [..., sig, cert] to alive
// and dead, [..., sig, cert] or [..., sig, cert, leave] to a push/pull entry. Unsigned
// messages keep their old layout and size.
function proofToWire(m: { sig?: Uint8Array; cert?: Uint8Array }): unknown[] {
  return m.sig && m.cert ? [m.sig, m.cert] : [];
}

function stateToWire(s: PushNodeState): unknown[] {
  const base = [addressToWire(s.node), s.incarnation, STATE_CODES[s.state], s.meta, ...proofToWire(s)];
  return s.leave && s.sig && s.cert ? [...base, s.leave] : base;
}

/** The msgpack-ready form of a message. */
export function toWire(m: Message): unknown[] {
  switch (m.t) {
    case 'ping':
      return [TYPE_CODES.ping, m.seq, m.target, addressToWire(m.source)];
    case 'ping-req':
      return [TYPE_CODES['ping-req'], m.seq, addressToWire(m.target), m.nack, addressToWire(m.source)];
    case 'ack':
      return m.payload === undefined ? [TYPE_CODES.ack, m.seq] : [TYPE_CODES.ack, m.seq, m.payload];
    case 'nack':
      return [TYPE_CODES.nack, m.seq];
    case 'alive':
      return [TYPE_CODES.alive, m.incarnation, addressToWire(m.node), m.meta, ...proofToWire(m)];
    case 'suspect':
      return [TYPE_CODES.suspect, m.incarnation, m.node, m.from];
    case 'dead':
      return [TYPE_CODES.dead, m.incarnation, m.node, m.from, ...proofToWire(m)];
    case 'user':
      return [TYPE_CODES.user, m.data];
    case 'push-pull':
      return [TYPE_CODES['push-pull'], m.join, m.states.map(stateToWire)];
  }
}

/** Thrown only inside this module, to unwind from a nested shape error; never escapes fromWire. */
class ShapeError {
  constructor(readonly problem: string) {}
}

function tuple(v: unknown, length: number, field: string): unknown[] {
  if (!Array.isArray(v) || v.length !== length) throw new ShapeError(`${field}: not a list of ${length}`);
  return v;
}

function addressFromWire(v: unknown, field: string): NodeAddress {
  const [name, addr, port] = tuple(v, 3, field);
  return { name, addr, port } as NodeAddress;
}

/** A list of one of the given lengths. */
function tupleOf(v: unknown, lengths: readonly number[], field: string): unknown[] {
  if (!Array.isArray(v) || !lengths.includes(v.length))
    throw new ShapeError(`${field}: not a list of ${lengths.join(' or ')}`);
  return v;
}

function proofFromWire(v: unknown[], at: number): { sig?: Uint8Array; cert?: Uint8Array } {
  return v.length > at ? { sig: v[at] as Uint8Array, cert: v[at + 1] as Uint8Array } : {};
}

function stateFromWire(v: unknown, field: string): PushNodeState {
  const t = tupleOf(v, [4, 6, 7], field);
  const [node, incarnation, code, meta] = t;
  const state = typeof code === 'number' ? STATES_BY_CODE[code] : undefined;
  if (state === undefined) throw new ShapeError(`${field}.state: not a member state`);
  return {
    node: addressFromWire(node, `${field}.node`),
    incarnation,
    state,
    meta,
    ...proofFromWire(t, 4),
    ...(t.length === 7 ? { leave: t[6] } : {}),
  } as PushNodeState;
}

function build(v: unknown): Message {
  if (!Array.isArray(v) || v.length === 0) throw new ShapeError('message: not a list');
  const field = (i: number) => v[i] as never;
  switch (v[0]) {
    case TYPE_CODES.ping:
      tuple(v, 4, 'ping');
      return { t: 'ping', seq: field(1), target: field(2), source: addressFromWire(v[3], 'ping.source') };
    case TYPE_CODES['ping-req']:
      tuple(v, 5, 'ping-req');
      return {
        t: 'ping-req',
        seq: field(1),
        target: addressFromWire(v[2], 'ping-req.target'),
        nack: field(3),
        source: addressFromWire(v[4], 'ping-req.source'),
      };
    case TYPE_CODES.ack:
      if (v.length === 2) return { t: 'ack', seq: field(1) };
      tuple(v, 3, 'ack');
      return { t: 'ack', seq: field(1), payload: field(2) };
    case TYPE_CODES.nack:
      tuple(v, 2, 'nack');
      return { t: 'nack', seq: field(1) };
    case TYPE_CODES.alive:
      tupleOf(v, [4, 6], 'alive');
      return {
        t: 'alive',
        incarnation: field(1),
        node: addressFromWire(v[2], 'alive.node'),
        meta: field(3),
        ...proofFromWire(v, 4),
      };
    case TYPE_CODES.suspect:
      tuple(v, 4, 'suspect');
      return { t: 'suspect', incarnation: field(1), node: field(2), from: field(3) };
    case TYPE_CODES.dead:
      tupleOf(v, [4, 6], 'dead');
      return { t: 'dead', incarnation: field(1), node: field(2), from: field(3), ...proofFromWire(v, 4) };
    case TYPE_CODES.user:
      tuple(v, 2, 'user');
      return { t: 'user', data: field(1) };
    case TYPE_CODES['push-pull']: {
      const [, join, states] = tuple(v, 3, 'push-pull');
      if (!Array.isArray(states)) throw new ShapeError('push-pull.states: not a list');
      return {
        t: 'push-pull',
        join: join as boolean,
        states: states.map((s, i) => stateFromWire(s, `push-pull.states[${i}]`)),
      };
    }
    default:
      throw new ShapeError('message: unknown type');
  }
}

/** Rebuilds and validates one message from its wire form: the message, or a loggable problem. */
export function fromWire(v: unknown): { ok: true; msg: Message } | { ok: false; problem: string } {
  let msg: Message;
  try {
    msg = build(v);
  } catch (e) {
    if (e instanceof ShapeError) return { ok: false, problem: e.problem };
    throw e;
  }
  const problem = checkMessage(msg);
  return problem === undefined ? { ok: true, msg } : { ok: false, problem };
}

// Field-by-field checks of the SWIM vocabulary in messages.ts. Everything that arrives
// from the network passes through here before the core sees it, so the core can trust
// the types in messages.ts without re-checking them.
//
// Each check returns `undefined` when the value is fine, or a short description of the
// first problem ("alive.node.port: not an integer in 1..65535"). The description is
// safe to log: it names fields, never echoes the offending bytes.

import { isIP } from 'node:net';
import { CERT_REF_BYTES, MAX_CERT_BYTES, MAX_INCARNATION, MAX_META_BYTES, SIG_BYTES } from './messages.js';
import type { Message, MemberState, PacketMessage } from './messages.js';

/** Node names end up in DNS labels, log lines and metrics; 255 keeps them bounded. */
export const MAX_NAME_LENGTH = 255;
/** The ack payload is opaque to the core (e.g. a metadata hash); bounded like metadata. */
export const MAX_ACK_PAYLOAD_BYTES = MAX_META_BYTES;

export type Problem = string | undefined;

export const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

/** A lone UTF-16 surrogate cannot survive UTF-8 on the wire: the name would change in transit. */
const LONE_SURROGATE = /\p{Cs}/u;

export function checkName(v: unknown, field: string): Problem {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NAME_LENGTH) {
    return `${field}: not a name of 1..${MAX_NAME_LENGTH} characters`;
  }
  if (LONE_SURROGATE.test(v)) return `${field}: not well-formed Unicode`;
  return undefined;
}

/** seq and incarnation: counters that only grow, so anything fractional, negative or lossy is forged. */
export function checkCounter(v: unknown, field: string): Problem {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${field}: not a non-negative safe integer`;
  return undefined;
}

/** A counter that also stays within MAX_INCARNATION, so that refuting it (+1) is still valid. */
export function checkIncarnation(v: unknown, field: string): Problem {
  return checkCounter(v, field) ?? ((v as number) > MAX_INCARNATION ? `${field}: above ${MAX_INCARNATION}` : undefined);
}

export function checkPort(v: unknown, field: string): Problem {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
    return `${field}: not an integer in 1..65535`;
  return undefined;
}

export function checkAddr(v: unknown, field: string): Problem {
  // isIP also accepts an IPv6 zone ("fe80::1%eth0"), which is a usable link-local address.
  if (typeof v !== 'string' || v.length > 64 || isIP(v) === 0) return `${field}: not an IP address literal`;
  return undefined;
}

export function checkBytes(v: unknown, field: string, max: number): Problem {
  if (!(v instanceof Uint8Array)) return `${field}: not binary`;
  if (v.byteLength > max) return `${field}: longer than ${max} bytes`;
  return undefined;
}

function checkBool(v: unknown, field: string): Problem {
  return typeof v === 'boolean' ? undefined : `${field}: not a boolean`;
}

/** A plain record: not an array, not a Map/Date/Set/Error from a msgpack extension, no exotic prototype. */
function isRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Rejects fields the vocabulary does not have. A sender that adds a field has changed the
 * protocol, and silently dropping the field would hide that from both sides.
 */
function checkKeys(v: Record<string, unknown>, allowed: readonly string[], field: string): Problem {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) return `${field}: unexpected field`;
  }
  return undefined;
}

export function checkNodeAddress(v: unknown, field: string): Problem {
  if (!isRecord(v)) return `${field}: not a node address`;
  return (
    checkKeys(v, ['name', 'addr', 'port'], field) ??
    checkName(v.name, `${field}.name`) ??
    checkAddr(v.addr, `${field}.addr`) ??
    checkPort(v.port, `${field}.port`)
  );
}

/** Optional signature and certificate (issue 13): both or neither; a signature of SIG_BYTES, a certificate reference or DER. */
function checkProof(v: Record<string, unknown>, field: string, leave = false): Problem {
  if (v.sig === undefined && v.cert === undefined && (!leave || v.leave === undefined)) return undefined;
  const sig = (b: unknown, f: string) =>
    b instanceof Uint8Array && b.byteLength === SIG_BYTES ? undefined : `${f}: not a ${SIG_BYTES}-byte signature`;
  return (
    sig(v.sig, `${field}.sig`) ??
    checkBytes(v.cert, `${field}.cert`, MAX_CERT_BYTES) ??
    ((v.cert as Uint8Array).byteLength < CERT_REF_BYTES
      ? `${field}.cert: shorter than a certificate reference`
      : undefined) ??
    (leave && v.leave !== undefined ? sig(v.leave, `${field}.leave`) : undefined)
  );
}

function checkMemberState(v: unknown, field: string): Problem {
  return MEMBER_STATES.includes(v as MemberState) ? undefined : `${field}: not a member state`;
}

function checkPushNodeState(v: unknown, field: string): Problem {
  if (!isRecord(v)) return `${field}: not a node state`;
  return (
    checkKeys(v, ['node', 'incarnation', 'state', 'meta', 'sig', 'cert', 'leave'], field) ??
    checkNodeAddress(v.node, `${field}.node`) ??
    checkIncarnation(v.incarnation, `${field}.incarnation`) ??
    checkMemberState(v.state, `${field}.state`) ??
    checkBytes(v.meta, `${field}.meta`, MAX_META_BYTES) ??
    checkProof(v, field, true)
  );
}

/** Checks one message that may travel in a UDP packet. */
export function checkPacketMessage(v: unknown): Problem {
  if (!isRecord(v)) return 'message: not a record';
  switch (v.t) {
    case 'ping':
      return (
        checkKeys(v, ['t', 'seq', 'target', 'source'], 'ping') ??
        checkCounter(v.seq, 'ping.seq') ??
        checkName(v.target, 'ping.target') ??
        checkNodeAddress(v.source, 'ping.source')
      );
    case 'ping-req':
      return (
        checkKeys(v, ['t', 'seq', 'target', 'nack', 'source'], 'ping-req') ??
        checkCounter(v.seq, 'ping-req.seq') ??
        checkNodeAddress(v.target, 'ping-req.target') ??
        checkBool(v.nack, 'ping-req.nack') ??
        checkNodeAddress(v.source, 'ping-req.source')
      );
    case 'ack':
      return (
        checkKeys(v, ['t', 'seq', 'payload'], 'ack') ??
        checkCounter(v.seq, 'ack.seq') ??
        (v.payload === undefined ? undefined : checkBytes(v.payload, 'ack.payload', MAX_ACK_PAYLOAD_BYTES))
      );
    case 'nack':
      return checkKeys(v, ['t', 'seq'], 'nack') ?? checkCounter(v.seq, 'nack.seq');
    case 'alive':
      return (
        checkKeys(v, ['t', 'incarnation', 'node', 'meta', 'sig', 'cert'], 'alive') ??
        checkIncarnation(v.incarnation, 'alive.incarnation') ??
        checkNodeAddress(v.node, 'alive.node') ??
        checkBytes(v.meta, 'alive.meta', MAX_META_BYTES) ??
        checkProof(v, 'alive')
      );
    case 'suspect':
    case 'dead':
      return (
        checkKeys(
          v,
          v.t === 'dead' ? ['t', 'incarnation', 'node', 'from', 'sig', 'cert'] : ['t', 'incarnation', 'node', 'from'],
          v.t,
        ) ??
        checkIncarnation(v.incarnation, `${v.t}.incarnation`) ??
        checkName(v.node, `${v.t}.node`) ??
        checkName(v.from, `${v.t}.from`) ??
        checkProof(v, v.t)
      );
    case 'user':
      // Bounded by the packet or frame that carries it; the layer above owns the content.
      return checkKeys(v, ['t', 'data'], 'user') ?? checkBytes(v.data, 'user.data', Number.MAX_SAFE_INTEGER);
    default:
      return 'message: unknown type';
  }
}

/** Checks any message, including the stream-only push-pull. */
export function checkMessage(v: unknown): Problem {
  if (isRecord(v) && v.t === 'push-pull') {
    const problem = checkKeys(v, ['t', 'join', 'states'], 'push-pull') ?? checkBool(v.join, 'push-pull.join');
    if (problem) return problem;
    if (!Array.isArray(v.states)) return 'push-pull.states: not a list';
    for (let i = 0; i < v.states.length; i++) {
      const p = checkPushNodeState(v.states[i], `push-pull.states[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  return checkPacketMessage(v);
}

export function isPacketMessage(v: unknown): v is PacketMessage {
  return checkPacketMessage(v) === undefined;
}

export function isMessage(v: unknown): v is Message {
  return checkMessage(v) === undefined;
}

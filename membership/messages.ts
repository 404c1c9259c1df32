// The SWIM wire vocabulary, shared by the sans-IO core (membership/core), the wire
// codec (membership/codec) and the simulator (props/sim). Plain data only: the codec
// turns these into bytes, the simulator passes them by value.
//
// Names follow hashicorp/memberlist where the concept is the same, so that anyone
// who has read state.go recognises them.

/** Identity of a node on the wire. `name` is the stable identity; addr:port may change across restarts. */
export interface NodeAddress {
  name: string;
  addr: string; // IPv4 or IPv6 literal
  port: number; // gossip port (UDP and TCP)
}

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface Ping {
  t: 'ping';
  seq: number;
  /** Name the sender believes it is probing; a node that is not `target` answers nothing (memberlist#222: restarted at a reused address). */
  target: string;
  source: NodeAddress;
}

/** ping-req: ask the receiver to probe `target` on our behalf. */
export interface IndirectPing {
  t: 'ping-req';
  seq: number;
  target: NodeAddress;
  /** The requester wants a nack if the target does not answer in time (Lifeguard). */
  nack: boolean;
  source: NodeAddress;
}

export interface Ack {
  t: 'ack';
  seq: number;
  /** Optional payload, e.g. the acker's metadata hash; opaque to the core. */
  payload?: Uint8Array;
}

export interface Nack {
  t: 'nack';
  seq: number;
}

export interface Alive {
  t: 'alive';
  incarnation: number;
  node: NodeAddress;
  meta: Uint8Array; // at most 512 bytes
  /**
   * With identity on (issue 13): the node's own signature over (name, addr, port,
   * incarnation, meta), see core/member-auth.ts, and its certificate: the DER, or its
   * short reference (CERT_REF_BYTES) once receivers know it. Relays pass both on as they are.
   */
  sig?: Uint8Array;
  cert?: Uint8Array;
}

export interface Suspect {
  t: 'suspect';
  incarnation: number;
  node: string;
  from: string;
}

/** from === node means a graceful leave (state `left`), as in memberlist. */
export interface Dead {
  t: 'dead';
  incarnation: number;
  node: string;
  from: string;
  /** A leave with identity on: the node's signature over (name, incarnation) and its certificate, as in Alive. */
  sig?: Uint8Array;
  cert?: Uint8Array;
}

/** Opaque payload for layers above membership (the store's broadcasts); disseminated like the rest. */
export interface User {
  t: 'user';
  data: Uint8Array;
}

/** One entry of a push/pull exchange. */
export interface PushNodeState {
  node: NodeAddress;
  incarnation: number;
  state: MemberState;
  meta: Uint8Array;
  /** With identity on: the signature of the node's alive at this incarnation, and its certificate (DER). */
  sig?: Uint8Array;
  cert?: Uint8Array;
  /** For state `left`: the node's signature of its leave. */
  leave?: Uint8Array;
}

/** Full-state exchange, sent over TCP. `join` marks the first exchange of a joining node. */
export interface PushPull {
  t: 'push-pull';
  join: boolean;
  states: PushNodeState[];
}

/** Messages that may travel in a UDP packet (possibly several per packet: a compound). */
export type PacketMessage = Ping | IndirectPing | Ack | Nack | Alive | Suspect | Dead | User;

/** Everything the core can send or receive. PushPull goes over TCP (stream) only. */
export type Message = PacketMessage | PushPull;

export const MAX_META_BYTES = 512;
/** A signature (Ed25519). */
export const SIG_BYTES = 64;
/** A certificate's short reference on the wire: the first bytes of its SHA-256 fingerprint. */
export const CERT_REF_BYTES = 16;
/** Largest certificate accepted on the wire (an Ed25519 node certificate is about 330 bytes). */
export const MAX_CERT_BYTES = 2048;

/**
 * Largest incarnation a valid message may carry: memberlist's uint32 range. An honest node
 * starts at seconds since the epoch (room until 2106) and adds one per refutation or
 * metadata change, so anything near the top was forged. The bound keeps every increment
 * encodable: 2^53-1 + 1 is not a safe integer and used to make the encoder throw.
 */
export const MAX_INCARNATION = 0xffffffff;

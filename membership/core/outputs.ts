// What the core hands back to its driver (the UDP/TCP adapter in the daemon, the
// network in props/sim). Plain data: the driver encodes, sends, or reports it.

import type { MemberState, Message, PacketMessage } from '../messages.js';
import type { MemberAuthReject } from './member-auth.js';

/** A transport address. The node's name is not part of it: names survive restarts, addresses don't. */
export interface Endpoint {
  addr: string;
  port: number;
}

export interface MemberView {
  name: string;
  addr: string;
  port: number;
  state: MemberState;
  incarnation: number;
  meta: Uint8Array;
  /** Time (ms, the driver's clock) of the last change of state, address or metadata. */
  lastChange: number;
}

/**
 * join: a node became alive that was unknown, dead or left. alive: a suspect refuted.
 * update: an alive node changed address or metadata. suspect / dead / leave: the state
 * changes of those names. reap: a dead or left node was forgotten after reapAfterMs.
 * Every event is a change; a consumer wanting swim-js's single `change` stream listens to all.
 */
export type MemberEventType = 'join' | 'alive' | 'update' | 'suspect' | 'dead' | 'leave' | 'reap';

/** Send these messages in one UDP datagram. `bytes` is the core's estimate of its size. */
export interface PacketOutput {
  kind: 'packet';
  to: Endpoint;
  msgs: PacketMessage[];
  bytes: number;
}

/**
 * Send `msg` over a reliable stream. For a push-pull, the peer's reply (what its
 * receiveStream returns) must be passed to receiveStreamReply; for anything else there is
 * no reply. Used for full-state sync and for any message too large for a datagram.
 */
export interface StreamOutput {
  kind: 'stream';
  to: Endpoint;
  msg: Message;
}

export interface MemberEventOutput {
  kind: 'event';
  type: MemberEventType;
  member: MemberView;
}

/** A user payload (from broadcastUser on some node) arrived. */
export interface UserOutput {
  kind: 'user';
  from: Endpoint;
  data: Uint8Array;
}

/** Our graceful leave has been gossiped enough: the driver may shut down now. */
export interface LeftOutput {
  kind: 'left';
}

export type Output = PacketOutput | StreamOutput | MemberEventOutput | UserOutput | LeftOutput;

/** Counters for /metrics. Monotonic except where noted. */
export interface SwimStats {
  probes: number;
  probeFailures: number;
  indirectProbes: number;
  suspicionsRaised: number;
  refutations: number;
  deathsDeclared: number;
  addressConflicts: number;
  rejectedMessages: number;
  /** Alive/suspect/dead news with an incarnation too far ahead of our clock to be honest (see SwimConfig.incarnationLeadS). */
  implausibleIncarnations: number;
  staleAcks: number;
  packetsOut: number;
  bytesOut: number;
  streamsOut: number;
  oversizeToStream: number;
  pushPulls: number;
  healAttempts: number;
  /** Membership news refused by identity (issue 13), by reason; all 0 with identity off. */
  authRejects: Record<MemberAuthReject, number>;
  /** Current local health score (0 = healthy); not monotonic. */
  healthScore: number;
}

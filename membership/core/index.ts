// membership/core: SWIM with Lifeguard as a sans-IO state machine.
//
// The core never touches a socket, a clock or Math.random. A driver (the dgram/TCP
// adapter in the daemon, or props/sim) owns those and talks to the core like this:
//
//   const core = new SwimCore({ self: {name, addr, port}, meta, config: makeConfig('lan'), rng, now,
//                               incarnation?, measure?, alignedProbing?, registry? });
//   core.join(now, seeds);                       // push-pull with each seed; seeds are retried while cut off
//   loop:
//     datagram in    -> core.receive(now, from, decodedMsgs)            (one message or a compound)
//     stream in      -> reply = core.receiveStream(now, from, msg); send reply back if defined
//     stream reply   -> core.receiveStreamReply(now, to, reply)          (reply to a push-pull we sent)
//     clock reaches core.nextDeadline() -> core.tick(now)
//     after any call: for (const o of core.takeOutputs()) ...
//       {kind:'packet', to, msgs, bytes}  encode msgs as one datagram to `to` (bytes: the core's size estimate)
//       {kind:'stream', to, msg}          open a stream, send msg; if a push-pull, feed the reply back
//       {kind:'event', type, member}      join | alive | update | suspect | dead | leave | reap
//       {kind:'user', from, data}         a broadcastUser payload from a peer
//       {kind:'left'}                     our leave has been gossiped; safe to shut down
//   core.leave(now) / core.updateMeta(now, meta) / core.broadcastUser(now, data)
//   core.members() / member(name) / localMember() -> {name, addr, port, state, incarnation, meta, lastChange}
//   core.stats() -> counters for /metrics;  numLive(), healthScore(), queuedBroadcasts()
//
// `now` is a millisecond clock; it only has to be consistent across calls to one core.
// If it is wall time shared by the cluster (Date.now() under NTP, or a simulator's
// virtual clock), pass alignedProbing: true and probe rounds line up across nodes so that
// every member is probed once per interval (probe-ring.ts); otherwise probing is
// memberlist's independent shuffled round-robin.
//
// Beyond memberlist (each explained where it lives in swim.ts):
//   - healing: seeds and dead members are retried with a push/pull, so an isolated node or
//     the sides of a partition find each other again;
//   - restarts: a node at a new address is accepted once it outbids its old life, or the old
//     one is dead or left; a node hearing of an older life of itself refutes;
//   - refutations also go straight to the accuser, stale accusations get a direct answer,
//     and a member we hold suspect or dead that talks to us is told so;
//   - a suspicion known only second-hand gets one probe of our own (and two probe intervals)
//     before the verdict; a suspect that answers our probe is no longer suspected here;
//   - ping-req relays nack inside the requester's window, so Lifeguard's missed-nack
//     signal means what it says;
//   - a node's first periodic push/pull falls at its phase of the interval scaled by N, not
//     within the unscaled one, so a large cluster started at once does not sync all at once.
//
// Cores in one process (the simulator's) may share a MemberRegistry: each table then keeps
// small numbers per member over shared names and places (member-registry.ts).
//
// Handlers never throw on network input: malformed messages, unknown members, stale
// seqs are counted in stats() and ignored. Programmer errors (metadata over 512 bytes,
// a bad config, a bad self address) throw synchronously.

export { SwimCore, type SwimCoreOptions } from './swim.js';
export { MemberRegistry } from './member-registry.js';
export { makeConfig, validateConfig, PRESETS, type PresetName, type SwimConfig } from './config.js';
export type {
  Endpoint,
  LeftOutput,
  MemberEventOutput,
  MemberEventType,
  MemberView,
  Output,
  PacketOutput,
  StreamOutput,
  SwimStats,
  UserOutput,
} from './outputs.js';
export { type Rng, Xoshiro128, seededRng, randomInt, shuffle } from '../../base/rng.js';
export { msgpackSize, memoized, type MeasureFn } from './size.js';
export { suspicionTimeout, remainingSuspicionTime, retransmitLimit, pushPullScale } from './math.js';

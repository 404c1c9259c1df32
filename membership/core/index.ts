// membership/core: SWIM with Lifeguard as a sans-IO state machine.
//
// The core never touches a socket, a clock or Math.random. A driver (the dgram/TCP
// adapter in the daemon, or props/sim) owns those and talks to the core like this:
//
//   const core = new SwimCore({ self: {name, addr, port}, meta, config: makeConfig('lan'), rng, now });
//   core.join(now, seeds);                       // push-pull with each seed
//   loop:
//     datagram in    -> core.receive(now, from, decodedMsgs)
//     stream in      -> reply = core.receiveStream(now, from, msg); send reply back if defined
//     stream reply   -> core.receiveStreamReply(now, from, reply)   (reply to a push-pull we sent)
//     clock reaches core.nextDeadline() -> core.tick(now)
//     after any call: for (const o of core.takeOutputs()) ...
//       {kind:'packet', to, msgs, bytes}  encode msgs as one datagram to `to`
//       {kind:'stream', to, msg}          open a stream, send msg; if a push-pull, feed the reply back
//       {kind:'event', type, member}      join | alive | update | suspect | dead | leave | reap
//       {kind:'user', from, data}         a broadcastUser payload from a peer
//       {kind:'left'}                     our leave has been gossiped; safe to shut down
//   core.leave(now) / core.updateMeta(now, meta) / core.broadcastUser(now, data)
//   core.members() -> [{name, addr, port, state, incarnation, meta, lastChange}]
//
// `now` is any monotonic millisecond clock; it only has to be consistent across calls.
// Handlers never throw on network input: malformed messages, unknown members, stale
// seqs are counted in stats() and ignored. Programmer errors (metadata over 512 bytes,
// a bad config) throw synchronously.

export { SwimCore, type SwimCoreOptions } from './swim.js';
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
export { type Rng, Xoshiro128, seededRng, randomInt, shuffle } from './rng.js';
export { msgpackSize, type MeasureFn } from './size.js';
export { suspicionTimeout, remainingSuspicionTime, retransmitLimit, pushPullScale } from './math.js';

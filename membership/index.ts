// membership: SWIM with Lifeguard over UDP/TCP. The one entry the daemon (src/) imports;
// the simulator and the store's tests reach into core/ and the codec directly.
//
//   core/            the sans-IO protocol core: (now, input) -> packets, timers, events
//   membership.ts    the driver for real networks: core + transport + clock
//   transport.ts     UDP and TCP sockets, framing, stream hello
//   codec.ts, messages.ts, wire-schema.ts, validate.ts   the wire format and its checks
//   keyring.ts       AES-GCM keys with rotation (gossip and store share it)
//   identity.ts      per-node certificates: who may speak for a node name
//   member-signer.ts signs this node's alives and checks the others' (identity.ts's keys)

export { Membership, type MembershipOptions, type MemberInfo } from './membership.js';
export { makeConfig, type SwimConfig } from './core/index.js';
export { MAX_META_BYTES } from './messages.js';
export { REJECT_REASONS } from './codec.js';
export { MEMBER_AUTH_REJECTS } from './core/member-auth.js';
export { SignedMembership } from './member-signer.js';
export { GossipBindError } from './transport.js';
export { Keyring, parseKey, generateKey } from './keyring.js';
export {
  IdentityError,
  makeIdentity,
  parseCa,
  loadIdentity,
  signRevocation,
  verifyRevocation,
  type Identity,
} from './identity.js';

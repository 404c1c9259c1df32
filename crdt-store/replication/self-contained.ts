// Rolling upgrade with identity on (issue 13). An agent from before certificate references
// reads an auth record only in its self-contained form, the signature followed by the
// writer's whole certificate, and does not expect the certificates list after a push or a
// sync. A peer that does not announce that it reads references (src/node-meta.ts,
// `certRefs` in its gossip metadata) gets that form: every record expanded with the
// certificate it references, no list. Newer agents take both forms, so a relayed
// self-contained record is still good.

import { AUTH_BYTES } from '../change-auth.js';
import type { Message, SyncItem, WireChange } from './wire.js';

const SIG_BYTES = 64;

/** A record in its self-contained form (as it is, if already so or its certificate is unknown here). */
function expand(auth: Uint8Array, certOf: (a: Uint8Array) => Uint8Array | undefined): Uint8Array {
  if (auth.byteLength !== AUTH_BYTES) return auth;
  const der = certOf(auth);
  if (!der) return auth;
  const out = new Uint8Array(SIG_BYTES + der.byteLength);
  out.set(auth.subarray(0, SIG_BYTES), 0);
  out.set(der, SIG_BYTES);
  return out;
}

const change = (c: WireChange, certOf: (a: Uint8Array) => Uint8Array | undefined): WireChange =>
  c.auth ? { ...c, auth: expand(c.auth, certOf) } : c;

function item(i: SyncItem, certOf: (a: Uint8Array) => Uint8Array | undefined): SyncItem {
  if (!i.auths) return i;
  const auths = new Map<string, Uint8Array>();
  for (const [h, a] of i.auths) auths.set(h, expand(a, certOf));
  return { ...i, auths };
}

/** `msg` as an agent from before certificate references reads it. */
export function selfContained(msg: Message, certOf: (a: Uint8Array) => Uint8Array | undefined): Message {
  switch (msg.t) {
    case 'push':
      return { ...msg, changes: msg.changes.map((c) => change(c, certOf)), certs: undefined, ann: undefined };
    case 'sync':
    case 'sync-reply':
      return { ...msg, items: msg.items.map((i) => item(i, certOf)), certs: undefined };
    default:
      return msg;
  }
}

// The default measure (msgpackr's size of the plain object, membership/core/size.ts) of a
// push/pull entry, worked out from its fields instead of by encoding it. A push/pull
// carries one entry per member, built afresh for each exchange, so the simulator sizes N
// entries per stream: encoding each one was a sixth of its CPU at 1,000 nodes.
//
// msgpackr's default `pack` writes a plain object as a map16 (3 bytes) of its keys, each a
// string, strings and byte arrays with the smallest header for their byte length, integers
// in 0..2^32-1 in the smallest unsigned form and other numbers as float64. Anything else
// (another key, a value of another type) is measured by encoding it, so the figure is the
// same as defaultMeasure's either way.

import type { Message, PushNodeState } from '../../membership/messages.js';
import { defaultMeasure } from '../../membership/core/size.js';

function strBytes(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

function binBytes(b: unknown): number {
  if (!(b instanceof Uint8Array)) return NaN;
  const n = b.length;
  return n + (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

function uintBytes(x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= 0x100000000) return NaN;
  return x < 0x80 ? 1 : x < 0x100 ? 2 : x < 0x10000 ? 3 : 5;
}

// Keys with their string headers.
const NODE_KEYS = 3 + strBytes('name') + strBytes('addr') + strBytes('port');
const ENTRY_KEYS = 3 + strBytes('node') + strBytes('incarnation') + strBytes('state') + strBytes('meta');
const SIG_KEY = strBytes('sig');
const CERT_KEY = strBytes('cert');
const LEAVE_KEY = strBytes('leave');

const isPlain = (o: unknown): o is Record<string, unknown> =>
  typeof o === 'object' && o !== null && Object.getPrototypeOf(o) === Object.prototype;

/** The entry's size, or NaN when it is not the usual shape. Keys are walked with for-in: no array per entry. */
function computed(e: Record<string, unknown>): number {
  let bytes = ENTRY_KEYS;
  let i = 0;
  for (const k in e) {
    if (i < 4) {
      // The four required keys first, in any order (an entry built elsewhere may order them differently).
      if (k !== 'node' && k !== 'incarnation' && k !== 'state' && k !== 'meta') return NaN;
    } else if (k === 'sig') bytes += SIG_KEY + binBytes(e.sig);
    else if (k === 'cert') bytes += CERT_KEY + binBytes(e.cert);
    else if (k === 'leave') bytes += LEAVE_KEY + binBytes(e.leave);
    else return NaN;
    i++;
  }
  if (i < 4 || typeof e.state !== 'string') return NaN;
  const node = e.node;
  if (!isPlain(node) || typeof node.name !== 'string' || typeof node.addr !== 'string') return NaN;
  let keys = 0;
  for (const k in node) {
    if (k !== 'name' && k !== 'addr' && k !== 'port') return NaN;
    keys++;
  }
  if (keys !== 3) return NaN;
  return (
    bytes +
    uintBytes(e.incarnation) +
    strBytes(e.state) +
    binBytes(e.meta) +
    NODE_KEYS +
    strBytes(node.name) +
    strBytes(node.addr) +
    uintBytes(node.port)
  );
}

/** Sizes of the shared entries (MemberRegistry.entry: frozen, one per member and state), worked out once each. */
const sizes = new WeakMap<object, number>();

/** defaultMeasure(entry), without encoding a well-formed entry. */
export function entrySize(e: PushNodeState): number {
  const shared = Object.isFrozen(e);
  const known = shared ? sizes.get(e) : undefined;
  if (known !== undefined) return known;
  let n = isPlain(e) ? computed(e) : NaN;
  if (Number.isNaN(n)) n = defaultMeasure(e as unknown as Message);
  if (shared) sizes.set(e, n);
  return n;
}

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
const REQUIRED: Record<string, true> = { node: true, incarnation: true, state: true, meta: true };
const OPTIONAL: Record<string, number> = { sig: strBytes('sig'), cert: strBytes('cert'), leave: strBytes('leave') };

function computed(e: PushNodeState): number {
  const node = e.node as unknown;
  if (typeof node !== 'object' || node === null || Object.getPrototypeOf(node) !== Object.prototype) return NaN;
  const nodeKeys = Object.keys(node);
  if (nodeKeys.length !== 3 || typeof e.node.name !== 'string' || typeof e.node.addr !== 'string') return NaN;
  let bytes = ENTRY_KEYS + NODE_KEYS + strBytes(e.node.name) + strBytes(e.node.addr) + uintBytes(e.node.port);
  if (typeof e.state !== 'string') return NaN;
  bytes += uintBytes(e.incarnation) + strBytes(e.state) + binBytes(e.meta);
  const keys = Object.keys(e);
  if (keys.length < 4) return NaN;
  for (let i = 4; i < keys.length; i++) {
    const k = keys[i]!;
    const key = OPTIONAL[k];
    if (key === undefined) return NaN;
    bytes += key + binBytes(e[k as 'sig' | 'cert' | 'leave']);
  }
  // The four required keys in any order (an entry built elsewhere may order them differently).
  for (let i = 0; i < 4; i++) if (!(keys[i]! in REQUIRED)) return NaN;
  return bytes;
}

/** defaultMeasure(entry), without encoding a well-formed entry. */
export function entrySize(e: PushNodeState): number {
  if (typeof e === 'object' && e !== null && Object.getPrototypeOf(e) === Object.prototype) {
    const n = computed(e);
    if (!Number.isNaN(n)) return n;
  }
  return defaultMeasure(e as unknown as Message);
}

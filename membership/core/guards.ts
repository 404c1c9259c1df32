// Cheap structural checks on what the core is handed. The codec validates thoroughly;
// these exist so that a driver bug or an unvalidated path can never make a handler throw.

import { MAX_CERT_BYTES, MAX_INCARNATION, MAX_META_BYTES, type NodeAddress, type PushNodeState } from '../messages.js';

export function isCounter(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function isIncarnation(v: unknown): v is number {
  return isCounter(v) && v <= MAX_INCARNATION;
}

export function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 255;
}

export function isNodeAddress(v: unknown): v is NodeAddress {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  return (
    isName(a.name) &&
    typeof a.addr === 'string' &&
    a.addr.length > 0 &&
    typeof a.port === 'number' &&
    Number.isInteger(a.port) &&
    a.port >= 0 &&
    a.port <= 65535
  );
}

export function isMeta(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.byteLength <= MAX_META_BYTES;
}

/** An optional signature or certificate (issue 13). */
export function isProofBytes(v: unknown): boolean {
  return v === undefined || (v instanceof Uint8Array && v.byteLength <= MAX_CERT_BYTES);
}

export function isPushNodeState(v: unknown): v is PushNodeState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    isProofBytes(s.sig) &&
    isProofBytes(s.cert) &&
    isProofBytes(s.leave) &&
    isNodeAddress(s.node) &&
    isIncarnation(s.incarnation) &&
    isMeta(s.meta) &&
    (s.state === 'alive' || s.state === 'suspect' || s.state === 'dead' || s.state === 'left')
  );
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

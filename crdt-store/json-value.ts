// Values the store accepts: JSON and nothing more. A value is checked once, when it is
// written, and stored as its canonical JSON text (object keys sorted), so two writes of
// equal values are byte-equal: an update that changes nothing is detected by comparing
// text and never becomes a change, a replication message or a watch event.
import { DEFAULTS } from './defaults.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A value (or key, or name) the store refuses, with the path to the offending part. */
export class StoreValueError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'StoreValueError';
  }
}

export interface ValueLimits {
  /** Largest canonical JSON text, in UTF-8 bytes. */
  maxBytes: number;
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
}

/** Reasons in crdt-store/defaults.ts. */
export const DEFAULT_VALUE_LIMITS: ValueLimits = DEFAULTS.valueLimits;

/**
 * Checks that `value` is JSON-like and returns its canonical JSON text. Throws a
 * StoreValueError naming the path of the first problem: undefined, functions, symbols,
 * bigints, non-finite numbers, non-plain objects (Date, Map, class instances), sparse
 * arrays, cycles, too deep, too large.
 */
export function canonicalJson(value: unknown, limits: ValueLimits = DEFAULT_VALUE_LIMITS): string {
  const ancestors = new Set<object>();
  const parts: string[] = [];
  let bytes = 0;
  const emit = (s: string) => {
    parts.push(s);
    bytes += s.length; // a lower bound on UTF-8 bytes: cheap early exit for huge values
    if (bytes > limits.maxBytes) throw new StoreValueError(`value is over ${limits.maxBytes} bytes`);
  };
  const walk = (v: unknown, path: string, depth: number): void => {
    const scalar = scalarJson(v, path);
    if (scalar !== undefined) emit(scalar);
    else walkObject(v as object, path, depth);
  };
  const walkObject = (v: object, path: string, depth: number): void => {
    if (depth >= limits.maxDepth) throw new StoreValueError(`${path} is nested deeper than ${limits.maxDepth} levels`);
    if (ancestors.has(v)) throw new StoreValueError(`${path} refers back to an enclosing value (a cycle)`);
    ancestors.add(v);
    if (Array.isArray(v)) {
      emit('[');
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) throw new StoreValueError(`${path}[${i}] is a hole in a sparse array`);
        if (i > 0) emit(',');
        walk(v[i], `${path}[${i}]`, depth + 1);
      }
      emit(']');
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new StoreValueError(
          `${path} is a ${(v as object).constructor?.name ?? 'non-plain object'}: only plain objects can be stored`,
        );
      }
      if (Object.getOwnPropertySymbols(v).length > 0) throw new StoreValueError(`${path} has symbol keys`);
      const keys = Object.keys(v).sort();
      emit('{');
      keys.forEach((k, i) => {
        if (i > 0) emit(',');
        emit(JSON.stringify(k));
        emit(':');
        walk((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
      });
      emit('}');
    }
    ancestors.delete(v);
  };
  walk(value, 'value', 0);
  const text = parts.join('');
  const utf8 = Buffer.byteLength(text, 'utf8');
  if (utf8 > limits.maxBytes)
    throw new StoreValueError(`value is ${utf8} bytes of JSON, over the ${limits.maxBytes}-byte limit`);
  return text;
}

/** The JSON text of a string, boolean, finite number or null; undefined for an array or object; throws for anything else. */
function scalarJson(v: unknown, path: string): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new StoreValueError(`${path} is ${v}: only finite numbers are JSON`);
      return JSON.stringify(v);
    case 'object':
      return v === null ? 'null' : undefined;
    default:
      throw new StoreValueError(
        `${path} is a ${typeof v}: only JSON values (null, boolean, number, string, array, plain object) can be stored`,
      );
  }
}

/**
 * Parses stored text back into a frozen value. Text from a peer is checked (it may come
 * from a buggy or hostile node): undefined unless it is JSON within the size and depth
 * limits. It is not required to be canonical: every node writes canonical text, and a
 * foreign writer's odd spelling could at worst make an equal rewrite look like a change.
 * Checking by parsing alone keeps loading a large store from churning the JS heap.
 */
export function parseStoredJson(text: string, limits: ValueLimits = DEFAULT_VALUE_LIMITS): Json | undefined {
  if (text.length > limits.maxBytes) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  return freezeWithin(v, limits.maxDepth) ? (v as Json) : undefined;
}

/** Deep-freezes `v`; false (partly frozen, to be discarded) if it nests deeper than `depth`. */
function freezeWithin(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (depth <= 0) return false;
  for (const child of Object.values(v)) if (!freezeWithin(child, depth - 1)) return false;
  Object.freeze(v);
  return true;
}

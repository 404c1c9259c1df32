// Replication messages and their msgpack form (positional arrays, type first). Decoding
// never throws: any bytes yield a validated message or a reason from a closed set, which
// the core counts (a Prometheus label).
//
//   push        changes, eagerly, down broadcast ring 0 (limit = end of the receiver's range;
//               NO_FORWARD for a graft's answer); `ann` announces the ids of other changes
//               the sender got lately (lazy announcements riding a message sent anyway)
//   ihave       ids of changes the sender has, lazily, to its lazy peer (Plumtree's lazy push)
//   graft       "send me these", to the sender of an ihave whose pushes never came
//   digest      anti-entropy: the root of the sender's two-level digest
//   groups      the receiver's group digests, when the roots differ
//   sync        a repair session's request: round 0 lists the initiator's documents in the
//               differing groups; every round carries Automerge sync messages
//   sync-reply  the responder's Automerge sync messages

import { Packr } from 'msgpackr';
import { LruMap } from '../../base/lru.js';
import { canonicalDocId, type DocId } from '../names.js';
import { DIGEST_GROUPS } from './digest.js';
import { arrayHeaderSize, binSize, numberSize, stringSize } from './msgpack-size.js';

/** 8 bytes of an Automerge change hash, as 16 hex digits: enough to tell changes apart in dedup windows. */
export type ChangeId = string;

export const NO_FORWARD = -1;

export interface WireChange {
  docId: DocId;
  epoch: number;
  id: ChangeId;
  change: Uint8Array;
  /** The writer's auth record (change-auth.ts), with identity on. */
  auth?: Uint8Array;
}

export interface ChangeRef {
  docId: DocId;
  epoch: number;
  id: ChangeId;
}

/** A document as listed in a repair: id, epoch, heads hash. */
export interface DocEntry {
  docId: DocId;
  epoch: number;
  hash: number;
}

export interface SyncItem {
  docId: DocId;
  epoch: number;
  msg: Uint8Array;
  /** Auth records of the changes in msg, by change hash (64 hex digits), with identity on. */
  auths?: Map<string, Uint8Array>;
}

/** Certificates (DER) for the auth records of a message that references them (change-auth.ts), with identity on. */
export type Certs = Uint8Array[];

export type Message =
  | { t: 'push'; origin: string; limit: number; changes: WireChange[]; certs?: Certs; ann?: ChangeId[] }
  | { t: 'ihave'; items: ChangeRef[] }
  | { t: 'graft'; ids: ChangeId[] }
  | { t: 'digest'; root: number }
  | { t: 'groups'; root: number; groups: number[] }
  | {
      t: 'sync';
      session: number;
      round: number;
      groups: number[];
      entries: DocEntry[];
      items: SyncItem[];
      certs?: Certs;
    }
  | { t: 'sync-reply'; session: number; items: SyncItem[]; more: boolean; certs?: Certs };

// not_member: from an address that is no live member's store (core.ts), counted when dropped.
export const REJECT_REASONS = [
  'malformed',
  'unknown_type',
  'invalid_field',
  'too_many',
  'bad_change',
  'bad_sync',
  'unexpected',
  'not_member',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type Decoded = { ok: true; msg: Message } | { ok: false; reason: RejectReason };

const TYPES = ['push', 'ihave', 'graft', 'digest', 'groups', 'sync', 'sync-reply'] as const;
const CODE = new Map<string, number>(TYPES.map((t, i) => [t, i + 1]));

/** Bounds on lists in one message: far above what a sender makes, low enough that a hostile one costs little. */
export const MAX_ITEMS = 4096;
/** Certificates in one message: one per writer whose records it carries (a sync of a shared document may name many). */
export const MAX_CERTS = 256;
/** Ids announced on one push: a sender puts at most fast-path.ts's ANNOUNCE_IDS there. */
export const MAX_ANN = 64;
const MAX_CERT_BYTES = 4096;
const MAX_NAME = 256;

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

const idBytes = (id: ChangeId): Buffer => Buffer.from(id, 'hex');
const idHex = (b: Uint8Array): ChangeId => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * Change ids decoded, one string per id (off: 0, as in an agent, which takes each change
 * once). Every node of a simulator decodes every id, and its window keeps a string of its
 * own for each: N^2 strings of the same N.
 */
let sharedIds: LruMap<ChangeId, ChangeId> | undefined;

/** Keep up to `entries` decoded change ids one string each (0: none, the default). */
export function shareChangeIds(entries: number): void {
  sharedIds = entries > 0 ? new LruMap(entries) : undefined;
}

function changeIdOf(b: Uint8Array): ChangeId {
  const id = idHex(b);
  if (!sharedIds) return id;
  const kept = sharedIds.get(id);
  if (kept !== undefined) return kept;
  sharedIds.set(id, id);
  return id;
}

/** The id of a change from its Automerge hash (64 hex digits). */
export const changeId = (hash: string): ChangeId => hash.slice(0, 16);

export function encode(m: Message): Uint8Array {
  const code = CODE.get(m.t)!;
  switch (m.t) {
    case 'push':
      return encodePush(code, m);
    case 'ihave':
      return packr.pack([code, m.items.map((c) => [c.docId, c.epoch, idBytes(c.id)])]);
    case 'graft':
      return packr.pack([code, m.ids.map(idBytes)]);
    case 'digest':
      return packr.pack([code, m.root]);
    case 'groups':
      return packr.pack([code, m.root, m.groups]);
    case 'sync':
      return packr.pack(
        withCerts(
          [code, m.session, m.round, m.groups, m.entries.map((e) => [e.docId, e.epoch, e.hash]), m.items.map(syncItem)],
          m.certs,
        ),
      );
    case 'sync-reply':
      return packr.pack(withCerts([code, m.session, m.items.map(syncItem), m.more], m.certs));
  }
}

type Push = Extract<Message, { t: 'push' }>;

/**
 * Each change list's msgpack, kept as long as the list lives: a relay sends one list to each
 * of its children, and a simulator's nodes pass one list on (props/sim StoreCluster
 * shareMessages), so it is encoded once, not once per push.
 */
const packedChanges = new WeakMap<readonly WireChange[], Uint8Array>();

const changeTuple = (c: WireChange) =>
  c.auth ? [c.docId, c.epoch, idBytes(c.id), c.change, c.auth] : [c.docId, c.epoch, idBytes(c.id), c.change];

/**
 * [code, origin, limit, changes, ...tail], byte for byte as packing it whole would give:
 * a msgpack array is its header and then each element's own encoding.
 */
function encodePush(code: number, m: Push): Uint8Array {
  let changes = packedChanges.get(m.changes);
  if (!changes) {
    changes = packr.pack(m.changes.map(changeTuple));
    // Frozen: a list changed after this would go out as it was (strict mode throws instead).
    packedChanges.set(Object.freeze(m.changes), changes);
  }
  const tail = withTail([], m.certs, m.ann);
  // Both arrays are short (3 and at most 2 elements): a one-byte header each (0x90 | length).
  const head = packr.pack([code, m.origin, m.limit]);
  const rest = packr.pack(tail).subarray(1);
  // Not Buffer.allocUnsafe: its shared 8 KB slabs also hold long-lived small copies (the
  // decode cache's), and one such copy kept a slab of spent pushes alive (heap per pair at
  // 150 simulated nodes 1,467 -> 1,602 B).
  const out = new Uint8Array(head.length + changes.length + rest.length);
  out.set(head, 0);
  out[0] = 0x90 | (4 + tail.length);
  out.set(changes, head.length);
  out.set(rest, head.length + changes.length);
  return out;
}

/**
 * encode(m).length, without making the bytes: a simulator that hands messages on whole
 * (StoreCoreOptions.shareMessages) needs only their size. Made, a push's bytes (one array per
 * child) outlived the packets in flight and were most of what its young collections kept,
 * and packing the lazy announcements (an ihave's ids as bytes) cost more than handling them.
 * Each case is encode's layout again, counted (msgpack-size.ts); push-encoding.test.ts
 * compares the two for every kind counted here. A repair's messages are rare: packed.
 */
export function encodedSize(m: Message): number {
  // [code, ...]: a fixarray header and a fixint code.
  switch (m.t) {
    case 'push': {
      const tail = tailSize(m.certs, m.ann);
      let changes = arrayHeaderSize(m.changes.length);
      for (const c of m.changes) changes += changeTupleSize(c);
      return 2 + stringSize(m.origin) + numberSize(m.limit) + changes + tail;
    }
    case 'ihave': {
      let n = 2 + arrayHeaderSize(m.items.length);
      for (const c of m.items) n += 1 + stringSize(c.docId) + numberSize(c.epoch) + ID_SIZE;
      return n;
    }
    case 'graft':
      return 2 + arrayHeaderSize(m.ids.length) + m.ids.length * ID_SIZE;
    case 'digest':
      return 2 + numberSize(m.root);
    case 'groups': {
      let n = 2 + numberSize(m.root) + arrayHeaderSize(m.groups.length);
      for (const g of m.groups) n += numberSize(g);
      return n;
    }
    default:
      return encode(m).length;
  }
}

/** A change id's bytes: 8 (the decoder takes no other length), as bin8. */
const ID_SIZE = binSize(8);

/** changeTuple's length: a tuple of 4 or 5 (a one-byte header) and its elements. */
const changeTupleSize = (c: WireChange): number =>
  1 +
  stringSize(c.docId) +
  numberSize(c.epoch) +
  ID_SIZE +
  binSize(c.change.length) +
  (c.auth ? binSize(c.auth.length) : 0);

/** What withTail adds to a push: certificates, then announced ids. */
function tailSize(certs: Certs | undefined, ann: ChangeId[] | undefined): number {
  const hasAnn = ann !== undefined && ann.length > 0;
  if (!hasAnn && !(certs && certs.length > 0)) return 0;
  let n = arrayHeaderSize(certs?.length ?? 0);
  for (const c of certs ?? []) n += binSize(c.length);
  return hasAnn ? n + arrayHeaderSize(ann.length) + ann.length * ID_SIZE : n;
}

/** Certificates go last, and only when there are some: a message without is as before. */
const withCerts = (fields: unknown[], certs: Certs | undefined): unknown[] =>
  certs && certs.length > 0 ? [...fields, certs] : fields;

/** A push's optional tail: certificates, then announced ids (after an empty certificates list if there are none). */
const withTail = (fields: unknown[], certs: Certs | undefined, ann: ChangeId[] | undefined): unknown[] =>
  ann && ann.length > 0 ? [...fields, certs ?? [], ann.map(idBytes)] : withCerts(fields, certs);

const syncItem = (s: SyncItem) =>
  s.auths && s.auths.size > 0
    ? [s.docId, s.epoch, s.msg, [...s.auths].map(([h, a]) => [Buffer.from(h, 'hex'), a])]
    : [s.docId, s.epoch, s.msg];

class Invalid extends Error {
  constructor(readonly reason: RejectReason) {
    super(reason);
  }
}

const fail = (reason: RejectReason = 'invalid_field'): never => {
  throw new Invalid(reason);
};

const u32 = (v: unknown): number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : fail();
const epoch = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : fail());
const docId = (v: unknown): DocId => canonicalDocId(v) ?? fail();
const name = (v: unknown): string => (typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME ? v : fail());
const bytes = (v: unknown): Uint8Array => (v instanceof Uint8Array && v.length > 0 ? v : fail());
const id = (v: unknown): ChangeId => (v instanceof Uint8Array && v.length === 8 ? changeIdOf(v) : fail());
const limit = (v: unknown): number =>
  v === NO_FORWARD || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 52) ? (v as number) : fail();
const list = <T>(v: unknown, each: (x: unknown) => T, max = MAX_ITEMS): T[] => {
  if (!Array.isArray(v)) return fail();
  if (v.length > max) return fail('too_many');
  return v.map(each);
};
const tuple = (v: unknown, n: number, upTo = n): unknown[] =>
  Array.isArray(v) && v.length >= n && v.length <= upTo ? v : fail();
const hash = (v: unknown): string => (v instanceof Uint8Array && v.length === 32 ? idHex(v) : fail());
const cert = (v: unknown): Uint8Array =>
  v instanceof Uint8Array && v.length > 0 && v.length <= MAX_CERT_BYTES ? v : fail();
/** The optional certificates field: absent, or a bounded list of bounded byte strings. */
const certs = (v: unknown): { certs?: Certs } => (v === undefined ? {} : { certs: list(v, cert, MAX_CERTS) });
const group = (v: unknown): number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < DIGEST_GROUPS ? v : fail();

function parse(v: unknown): Message {
  if (!Array.isArray(v) || v.length === 0) return fail('malformed');
  const type = TYPES[(v[0] as number) - 1];
  if (typeof v[0] !== 'number' || !type) return fail('unknown_type');
  switch (type) {
    case 'push': {
      const [, o, l, cs, cts, ann] = tuple(v, 4, 6);
      const c = certs(cts);
      return {
        t: type,
        origin: name(o),
        limit: limit(l),
        changes: list(cs, wireChangeOf),
        ...(c.certs && c.certs.length > 0 ? c : {}),
        ...(ann === undefined ? {} : { ann: list(ann, id, MAX_ANN) }),
      };
    }
    case 'ihave': {
      const [, is] = tuple(v, 2);
      return {
        t: type,
        items: list(is, ihaveItemOf),
      };
    }
    case 'graft': {
      const [, ids] = tuple(v, 2);
      return { t: type, ids: list(ids, id) };
    }
    case 'digest': {
      const [, r] = tuple(v, 2);
      return { t: type, root: u32(r) };
    }
    case 'groups': {
      const [, r, gs] = tuple(v, 3);
      const groups = list(gs, u32);
      if (groups.length !== DIGEST_GROUPS) fail();
      return { t: type, root: u32(r), groups };
    }
    case 'sync':
      return parseSync(v);
    case 'sync-reply': {
      const [, s, is, more, cts] = tuple(v, 4, 5);
      return {
        t: type,
        session: u32(s),
        items: list(is, syncItemOf),
        more: typeof more === 'boolean' ? more : fail(),
        ...certs(cts),
      };
    }
  }
}

function parseSync(v: unknown[]): Message {
  const [, s, r, gs, es, is, cts] = tuple(v, 6, 7);
  return {
    t: 'sync',
    session: u32(s),
    round: u32(r),
    groups: list(gs, group, DIGEST_GROUPS),
    entries: list(es, (x) => {
      const [d, e, h] = tuple(x, 3);
      return { docId: docId(d), epoch: epoch(e), hash: u32(h) };
    }),
    items: list(is, syncItemOf),
    ...certs(cts),
  };
}

const wireChangeOf = (c: unknown): WireChange => {
  const [d, e, i, ch, a] = tuple(c, 4, 5);
  const w: WireChange = { docId: docId(d), epoch: epoch(e), id: id(i), change: bytes(ch) };
  if (a !== undefined) w.auth = bytes(a);
  return w;
};

const ihaveItemOf = (c: unknown) => {
  const [d, e, i] = tuple(c, 3);
  return { docId: docId(d), epoch: epoch(e), id: id(i) };
};

const syncItemOf = (x: unknown): SyncItem => {
  const [d, e, m, as] = tuple(x, 3, 4);
  const item: SyncItem = { docId: docId(d), epoch: epoch(e), msg: bytes(m) };
  if (as !== undefined) {
    item.auths = new Map(
      list(as, (p) => {
        const [h, a] = tuple(p, 2);
        return [hash(h), bytes(a)] as const;
      }),
    );
  }
  return item;
};

export function decode(buf: Uint8Array): Decoded {
  let v: unknown;
  try {
    v = packr.unpack(buf);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  try {
    return { ok: true, msg: parse(v) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.reason };
    return { ok: false, reason: 'malformed' };
  }
}

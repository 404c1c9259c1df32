// The gossip metadata every agent publishes about itself: a small JSON object. weft's own
// fields are `version`, `store` (the store's replication port) and `tags` (the node's tags,
// node.tags); the operator's text from PUT /v1/members/self/meta goes in `user`. Peers read
// it, so it is validated here. It rides in every alive (signed with the node's identity when
// that is on), so all of it fits in membership's MAX_META_BYTES (512): tags get at most
// NODE_TAGS_MAX_BYTES of it.

export function encodeMeta(meta: ReadonlyMap<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(Object.fromEntries(meta)));
}

function decodeMeta(bytes: Uint8Array | undefined): Record<string, unknown> | undefined {
  if (!bytes || bytes.length === 0 || bytes[0] !== 0x7b /* { */) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// A member's metadata is the same bytes until it changes: parse each once, not on every
// membership refresh.
const storePorts = new WeakMap<Uint8Array, number | undefined>();

/** The store port a member announced, or undefined (not yet known, or not an agent with a store). */
export function storePortOf(meta: Uint8Array | undefined): number | undefined {
  if (!meta) return undefined;
  if (storePorts.has(meta)) return storePorts.get(meta);
  const port = decodeMeta(meta)?.store;
  const valid =
    Number.isInteger(port) && (port as number) > 0 && (port as number) <= 65535 ? (port as number) : undefined;
  storePorts.set(meta, valid);
  return valid;
}

// ------------------------------------------------------------ certificate references (issue 13)

/**
 * The field by which an agent announces that it reads auth records naming their certificate
 * by reference (crdt-store/change-auth.ts). A member without it runs an older weft: its peers
 * send it self-contained records (crdt-store/replication/self-contained.ts), so a cluster
 * can be upgraded node by node with identity on.
 */
export const CERT_REFS_META_KEY = 'certRefs';

/**
 * The field by which an agent announces that it reads batch-signed auth records (a burst
 * of changes under one signature, crdt-store/change-auth.ts signBatch). A node signs in
 * batches only while every member announces it.
 */
export const BATCH_SIGS_META_KEY = 'batchSigs';

const flagsSeen = new Map<string, WeakMap<Uint8Array, boolean>>();

/** Did a member announce `key: 1` in its metadata? */
function announces(meta: Uint8Array | undefined, key: string): boolean {
  if (!meta) return false;
  let seen = flagsSeen.get(key);
  if (!seen) flagsSeen.set(key, (seen = new WeakMap()));
  let yes = seen.get(meta);
  if (yes === undefined) seen.set(meta, (yes = decodeMeta(meta)?.[key] === 1));
  return yes;
}

/** Does a member read auth records by certificate reference (it announced CERT_REFS_META_KEY)? */
export const readsCertRefs = (meta: Uint8Array | undefined): boolean => announces(meta, CERT_REFS_META_KEY);

/** Does a member read batch-signed auth records (it announced BATCH_SIGS_META_KEY)? */
export const readsBatchSigs = (meta: Uint8Array | undefined): boolean => announces(meta, BATCH_SIGS_META_KEY);

// ------------------------------------------------------------ node tags (issue 14)

/** The most bytes a node's tags take in its metadata (as JSON), leaving room for weft's fields and the user's text. */
export const NODE_TAGS_MAX_BYTES = 256;
const TAG_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// Printable ASCII without ',' and '=' (the flag and environment forms separate with them).
const TAG_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,128}$/;

/** Why a set of node tags cannot be published, or undefined. */
export function nodeTagsProblem(tags: Record<string, unknown>): string | undefined {
  for (const [k, v] of Object.entries(tags)) {
    if (!TAG_KEY.test(k)) return `tag key ${JSON.stringify(k)}: 1-64 of A-Z, a-z, 0-9, _, . and -`;
    if (typeof v !== 'string' || !TAG_VALUE.test(v))
      return `tag ${k}: the value must be up to 128 printable characters, without "," and "="`;
  }
  const bytes = Buffer.byteLength(JSON.stringify(tags));
  return bytes > NODE_TAGS_MAX_BYTES
    ? `the tags take ${bytes} bytes of gossip metadata; at most ${NODE_TAGS_MAX_BYTES}`
    : undefined;
}

const nodeTags = new WeakMap<Uint8Array, Record<string, string>>();

/** The tags a member announced; none when it announced none, or ones that do not pass nodeTagsProblem. */
export function tagsOf(meta: Uint8Array | undefined): Record<string, string> {
  if (!meta) return {};
  const known = nodeTags.get(meta);
  if (known) return known;
  const tags = decodeMeta(meta)?.tags;
  const ok =
    typeof tags === 'object' &&
    tags !== null &&
    !Array.isArray(tags) &&
    nodeTagsProblem(tags as Record<string, unknown>) === undefined;
  const valid = ok ? { ...(tags as Record<string, string>) } : {};
  nodeTags.set(meta, valid);
  return valid;
}

/** Does a member carry every key=value of `want` (exact match)? */
export function hasNodeTags(meta: Uint8Array | undefined, want: Record<string, string>): boolean {
  const tags = tagsOf(meta);
  return Object.entries(want).every(([k, v]) => Object.hasOwn(tags, k) && tags[k] === v);
}

/** `key=value` filters (weft members --tag, /v1/members?tag=) as one object, or the reason they are not. */
export function parseNodeTagFilter(items: readonly string[]): Record<string, string> | string {
  const want: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) return `tag filter ${JSON.stringify(item)}: write KEY=VALUE, e.g. role=web`;
    want[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return want;
}

// The gossip metadata every agent publishes about itself: a small JSON object. weft's own
// fields are `version` and `store` (the store's replication port); the operator's text
// from PUT /v1/members/self/meta goes in `user`. Peers read it, so it is validated here.

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

// Claim times of VIPs: when each VIP was first claimed, computed identically on every node
// from the records alone, so that the earliest claim keeps its address (allocator.ts).
//
// A VIP's claim is the earliest `since` among the live records naming it: endpoint
// bindings and declared VIPs (records of older versions have none and claim at 0, which
// orders them by name, as before). A writer stamps a binding with the VIP's claim as it
// sees it when the VIP exists already (stampClaims), so the claim does not move later
// when the record that set it goes away (a rolling restart of backends), and with the
// time of writing for a VIP that is new. When every record of a VIP is gone, its address
// is free; a VIP that comes back is a new claim and may land elsewhere (declare it with
// `weft vip add` to keep it across a time with no backends).
//
// Limits: a node can only claim for names it backs or declares, but it can claim any
// time: a hostile member stamping 0 puts a VIP it backs first, which can move another VIP
// colliding with it. Members can already bind any VIP name; this is no more than that.
import type { DeclaredVip, EndpointRecord, VipBinding } from '../records/schema.js';
import { parseDeclaredVip, parseEndpointRecord, SERVICE_PREFIX, VIP_PREFIX } from '../records/schema.js';

/** VIP name or literal -> its claim: the earliest `since` among the records naming it. */
export function vipClaims(
  endpoints: Iterable<{ rec: EndpointRecord }>,
  declared: Iterable<DeclaredVip>,
): Map<string, number> {
  const claims = new Map<string, number>();
  const see = (vip: string, since: number | undefined) => {
    const s = since ?? 0;
    const cur = claims.get(vip);
    if (cur === undefined || s < cur) claims.set(vip, s);
  };
  for (const e of endpoints) for (const b of e.rec.vips) see(b.vip, b.since);
  for (const d of declared) see(d.vip, d.since);
  return claims;
}

/** What a writer reads the current claims from (crdt-store's StoreNode and LocalStore fit). */
export interface ClaimSource {
  keys(prefix: string, opts?: { view?: 'live' | 'all' }): string[];
  get(key: string, opts?: { view?: 'live' | 'all' }): { value: unknown } | undefined;
}

/** A claim later than this many ms ahead of the writer's clock is not followed (a skewed or hostile writer). */
export const MAX_CLAIM_AHEAD_MS = 24 * 3600_000;

const sinceOf = (b: unknown): number | undefined => {
  const s = (b as { since?: unknown } | null)?.since;
  return typeof s === 'number' && Number.isSafeInteger(s) && s >= 0 ? s : undefined;
};

/**
 * The claims of `names` as the store holds them, dead owners' records included (a VIP whose
 * backends' node is down for a while keeps its claim), and the latest claim of any VIP.
 * Reads every endpoint record, cheaply (a record naming none of `names` is not parsed):
 * called only when a binding is new.
 */
export function claimsInStore(
  store: ClaimSource,
  names: ReadonlySet<string>,
): { claims: Map<string, number>; latest: number } {
  const endpoints: { rec: EndpointRecord }[] = [];
  const declared: DeclaredVip[] = [];
  let latest = -1;
  if (names.size === 0) return { claims: new Map(), latest };
  for (const key of store.keys(SERVICE_PREFIX, { view: 'all' })) {
    const value = store.get(key, { view: 'all' })?.value;
    const vips = (value as { vips?: unknown } | null)?.vips;
    if (!Array.isArray(vips)) continue;
    let named = false;
    for (const b of vips) {
      latest = Math.max(latest, sinceOf(b) ?? 0);
      if (names.has((b as { vip?: unknown } | null)?.vip as string)) named = true;
    }
    if (!named) continue;
    const rec = parseEndpointRecord(value);
    if (rec) endpoints.push({ rec });
  }
  for (const key of store.keys(VIP_PREFIX, { view: 'all' })) {
    const d = parseDeclaredVip(store.get(key, { view: 'all' })?.value);
    if (!d) continue;
    latest = Math.max(latest, d.since ?? 0);
    if (names.has(d.vip)) declared.push(d);
  }
  const all = vipClaims(endpoints, declared);
  return { claims: new Map([...all].filter(([n]) => names.has(n))), latest };
}

/**
 * Bindings (or declared VIPs) with `since` set: kept from the previous version of the
 * record when it named the same VIP, else the VIP's current claim in the store, else (a
 * new VIP) now, or just after the latest claim in the store when that is later (as overlay
 * leases are stamped: a writer whose clock is behind never outranks a VIP it has seen).
 */
export function stampClaims<T extends Pick<VipBinding, 'vip' | 'since'>>(
  items: readonly T[],
  previous: readonly Pick<VipBinding, 'vip' | 'since'>[] | undefined,
  store: ClaimSource,
  now: number,
): T[] {
  const prev = new Map<string, number>();
  for (const p of previous ?? [])
    if (p.since !== undefined) prev.set(p.vip, Math.min(p.since, prev.get(p.vip) ?? Infinity));
  const need = new Set(items.filter((b) => b.since === undefined && !prev.has(b.vip)).map((b) => b.vip));
  const { claims, latest } = claimsInStore(store, need);
  const at = Math.max(0, Math.floor(now));
  const fresh = latest + 1 > at && latest + 1 <= at + MAX_CLAIM_AHEAD_MS ? latest + 1 : at;
  return items.map((b) => {
    if (b.since !== undefined) return b;
    const since = Math.min(prev.get(b.vip) ?? Infinity, claims.get(b.vip) ?? Infinity);
    return { ...b, since: Number.isFinite(since) ? since : fresh };
  });
}

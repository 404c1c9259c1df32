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
import type { DeclaredVip, EndpointRecord, VipBinding } from '../src/records.js';
import { parseDeclaredVip, parseEndpointRecord, SERVICE_PREFIX, VIP_PREFIX } from '../src/records.js';

/** VIP name or literal -> its claim: the earliest `since` among the records naming it. */
export function vipClaims(endpoints: Iterable<{ rec: EndpointRecord }>, declared: Iterable<DeclaredVip>): Map<string, number> {
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

/**
 * The claims of `names` as the store holds them, dead owners' records included (a VIP whose
 * backends' node is down for a while keeps its claim). Reads every endpoint record: called
 * only when a binding is new.
 */
export function claimsInStore(store: ClaimSource, names: ReadonlySet<string>): Map<string, number> {
  const endpoints: { rec: EndpointRecord }[] = [];
  const declared: DeclaredVip[] = [];
  if (names.size === 0) return new Map();
  for (const key of store.keys(SERVICE_PREFIX, { view: 'all' })) {
    const rec = parseEndpointRecord(store.get(key, { view: 'all' })?.value);
    if (rec && rec.vips.some((b) => names.has(b.vip))) endpoints.push({ rec });
  }
  for (const key of store.keys(VIP_PREFIX, { view: 'all' })) {
    const d = parseDeclaredVip(store.get(key, { view: 'all' })?.value);
    if (d && names.has(d.vip)) declared.push(d);
  }
  const all = vipClaims(endpoints, declared);
  return new Map([...all].filter(([n]) => names.has(n)));
}

/**
 * Bindings (or declared VIPs) with `since` set: kept from the previous version of the
 * record when it named the same VIP, else the VIP's current claim in the store, else now.
 * The lowest of those that exist, so a rewrite never moves a claim later.
 */
export function stampClaims<T extends Pick<VipBinding, 'vip' | 'since'>>(items: readonly T[], previous: readonly Pick<VipBinding, 'vip' | 'since'>[] | undefined, store: ClaimSource, now: number): T[] {
  const prev = new Map<string, number>();
  for (const p of previous ?? []) if (p.since !== undefined) prev.set(p.vip, Math.min(p.since, prev.get(p.vip) ?? Infinity));
  const need = new Set(items.filter((b) => b.since === undefined && !prev.has(b.vip)).map((b) => b.vip));
  const claims = claimsInStore(store, need);
  const at = Math.max(0, Math.floor(now));
  return items.map((b) => {
    if (b.since !== undefined) return b;
    const since = Math.min(prev.get(b.vip) ?? Infinity, claims.get(b.vip) ?? Infinity);
    return { ...b, since: Number.isFinite(since) ? since : at };
  });
}

// The applied nft plan, kept VIP by VIP (issue 17): after one VIP changed, a pass plans
// that VIP alone and renders only its commands, instead of hashing every VIP's chain again
// and comparing whole maps and sets (1,000 VIPs x 10 backends: tens of ms a pass). The plan
// it holds is exactly planNft's of the same VIPs, and its script does what renderDiff's
// between the two whole plans does (nft-plan-index.test.ts checks both on random changes).
//
// A set element may come from several VIPs (a backend of two VIPs is one hairpin element;
// the ports of one name share its address), so those are counted. Two VIPs on one map key
// (an IPv6 literal written two ways) are left to the whole plan: update() says so and the
// caller plans everything, as before.
import { planNft, type Affinity, type NftPlan } from './nft-plan.js';
import type { Backend, DesiredVip } from './desired.js';

const emptyPlan = (range: Iterable<string> = []): NftPlan => ({
  chains: new Map(),
  vmap: new Map(),
  vipAddrs: new Set(),
  hairpin: new Set(),
  range: new Set(range),
  skipped: [],
});

const sameBackends = (a: readonly Backend[] | undefined, b: readonly Backend[] | undefined): boolean =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.length === b.length &&
    a.every((x, i) => x.addr === b[i].addr && x.port === b[i].port));

/** Whether two VIPs plan the same: every field planVip reads. */
export const samePlan = (a: DesiredVip, b: DesiredVip): boolean =>
  a === b ||
  (a.key === b.key &&
    a.addr === b.addr &&
    a.addr6 === b.addr6 &&
    a.port === b.port &&
    a.proto === b.proto &&
    sameBackends(a.backends, b.backends) &&
    sameBackends(a.backends6, b.backends6));

type Counted = 'vipAddrs' | 'hairpin';
const COUNTED: readonly Counted[] = ['vipAddrs', 'hairpin'];

export class PlanIndex {
  /** The whole plan, as planNft(vips) would give it. */
  readonly plan: NftPlan;
  private readonly affinity: Affinity;
  private readonly parts = new Map<string, { v: DesiredVip; part: NftPlan }>();
  private readonly refs: Record<Counted, Map<string, number>> = { vipAddrs: new Map(), hairpin: new Map() };
  /** Map key -> the VIP key holding it. */
  private readonly owner = new Map<string, string>();
  private readonly skipped = new Set<string>();
  /** Two VIPs on one map key: only the whole plan says which wins. */
  private shared = false;

  constructor(vips: readonly DesiredVip[], affinity: Affinity, range: Iterable<string> = []) {
    this.affinity = affinity;
    this.plan = emptyPlan(range);
    for (const v of vips) this.add(v);
    this.plan.skipped = vips.filter((v) => this.skipped.has(v.key)).map((v) => v.key);
  }

  /** Whether update() can follow changes (else plan the whole table each pass). */
  get incremental(): boolean {
    return !this.shared;
  }

  private add(v: DesiredVip, to?: NftPlan): void {
    const part = planNft([v], this.affinity);
    this.parts.set(v.key, { v, part });
    for (const [name, c] of part.chains) {
      this.plan.chains.set(name, c);
      to?.chains.set(name, c);
    }
    for (const [k, c] of part.vmap) {
      const held = this.owner.get(k);
      if (held !== undefined && held !== v.key) this.shared = true;
      this.owner.set(k, v.key);
      this.plan.vmap.set(k, c);
      to?.vmap.set(k, c);
    }
    for (const f of COUNTED)
      for (const e of part[f]) {
        const n = this.refs[f].get(e) ?? 0;
        this.refs[f].set(e, n + 1);
        if (n === 0) {
          this.plan[f].add(e);
          to?.[f].add(e);
        }
      }
    if (part.skipped.length) this.skipped.add(v.key);
  }

  private remove(key: string, from: NftPlan): void {
    const had = this.parts.get(key);
    if (!had) return;
    this.parts.delete(key);
    const { part } = had;
    for (const [name, c] of part.chains) {
      this.plan.chains.delete(name);
      from.chains.set(name, c);
    }
    for (const [k, c] of part.vmap) {
      this.plan.vmap.delete(k);
      this.owner.delete(k);
      from.vmap.set(k, c);
    }
    for (const f of COUNTED)
      for (const e of part[f]) {
        const n = this.refs[f].get(e)! - 1;
        if (n > 0) this.refs[f].set(e, n);
        else {
          this.refs[f].delete(e);
          this.plan[f].delete(e);
          from[f].add(e);
        }
      }
    this.skipped.delete(key);
  }

  /**
   * Follows the VIPs to `vips`: the plan becomes planNft(vips)'s, and the returned `from` and
   * `to` hold only what changed (renderDiff(from, to) is then the transaction). Undefined
   * when it cannot (see `incremental`): the plan is then unusable, and the caller starts again.
   */
  update(vips: readonly DesiredVip[]): { from: NftPlan; to: NftPlan; addrsChanged: boolean } | undefined {
    if (this.shared) return undefined;
    const from = emptyPlan();
    const to = emptyPlan();
    let seen = 0;
    const changed: DesiredVip[] = [];
    for (const v of vips) {
      const had = this.parts.get(v.key);
      if (had) seen++;
      if (had && samePlan(had.v, v)) had.v = v;
      else changed.push(v);
    }
    if (seen < this.parts.size) {
      const keys = new Set(vips.map((v) => v.key));
      for (const k of [...this.parts.keys()]) if (!keys.has(k)) this.remove(k, from);
    }
    for (const v of changed) this.remove(v.key, from);
    for (const v of changed) this.add(v, to);
    if (this.shared) return undefined;
    // A set element that went and came back (another VIP still holds it) is no change.
    for (const f of COUNTED) for (const e of [...from[f]]) if (to[f].delete(e)) from[f].delete(e);
    if (changed.length || from.chains.size || this.skipped.size)
      this.plan.skipped = vips.filter((v) => this.skipped.has(v.key)).map((v) => v.key);
    const addrsChanged = from.vipAddrs.size > 0 || to.vipAddrs.size > 0;
    return { from, to, addrsChanged };
  }
}

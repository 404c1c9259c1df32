// VIP name -> address (and IPv6 address, with lb.vipCidr6), with change notification: what
// the DNS server answers `<vip>.vip.<domain>` from (dns/zone.ts VipSource: A and AAAA). Only
// named VIPs; a literal-IP VIP needs no name. A handler hears every current VIP at once,
// then each change (both addresses undefined: the VIP is gone), and nothing when a pass
// leaves the addresses as they were.
import { isServiceName } from '../records/schema.js';

export type VipHandler = (vip: string, addr: string | undefined, addr6?: string) => void;

export class VipTable {
  private current = new Map<string, string>();
  private current6 = new Map<string, string>();
  private readonly handlers = new Set<VipHandler>();
  /** Handler exceptions (counted, never propagated into the load balancer). */
  handlerErrors = 0;

  watch(handler: VipHandler): () => void {
    this.handlers.add(handler);
    for (const vip of new Set([...this.current.keys(), ...this.current6.keys()]))
      this.call(handler, vip, this.current.get(vip), this.current6.get(vip));
    return () => {
      this.handlers.delete(handler);
    };
  }

  get(vip: string): string | undefined {
    return this.current.get(vip);
  }

  /** The VIP's IPv6 address (lb.vipCidr6), if it has one. */
  get6(vip: string): string | undefined {
    return this.current6.get(vip);
  }

  entries(): Map<string, string> {
    return new Map(this.current);
  }

  /** Replaces the table, telling the handlers what differs. */
  set(next: Map<string, string>, next6: Map<string, string> = new Map()): void {
    const named = new Map([...next].filter(([v]) => isServiceName(v)));
    const named6 = new Map([...next6].filter(([v]) => isServiceName(v)));
    const [before, before6] = [this.current, this.current6];
    this.current = named;
    this.current6 = named6;
    for (const vip of new Set([...before.keys(), ...before6.keys(), ...named.keys(), ...named6.keys()])) {
      const [a, a6] = [named.get(vip), named6.get(vip)];
      if (before.get(vip) !== a || before6.get(vip) !== a6) this.emit(vip, a, a6);
    }
  }

  private emit(vip: string, addr: string | undefined, addr6: string | undefined): void {
    for (const h of this.handlers) this.call(h, vip, addr, addr6);
  }

  private call(h: VipHandler, vip: string, addr: string | undefined, addr6?: string): void {
    try {
      h(vip, addr, addr6);
    } catch {
      this.handlerErrors++;
    }
  }
}

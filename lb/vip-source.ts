// VIP name -> address, with change notification: what the DNS server answers
// `<vip>.vip.<domain>` from (dns/zone.ts VipSource). Only named VIPs; a literal-IP VIP needs
// no name. A handler hears every current VIP at once, then each change (addr undefined:
// the VIP is gone), and nothing when a pass leaves the addresses as they were.
import { isServiceName } from '../records/schema.js';

export type VipHandler = (vip: string, addr: string | undefined) => void;

export class VipTable {
  private current = new Map<string, string>();
  private readonly handlers = new Set<VipHandler>();
  /** Handler exceptions (counted, never propagated into the load balancer). */
  handlerErrors = 0;

  watch(handler: VipHandler): () => void {
    this.handlers.add(handler);
    for (const [vip, addr] of this.current) this.call(handler, vip, addr);
    return () => {
      this.handlers.delete(handler);
    };
  }

  get(vip: string): string | undefined {
    return this.current.get(vip);
  }

  entries(): Map<string, string> {
    return new Map(this.current);
  }

  /** Replaces the table, telling the handlers what differs. */
  set(next: Map<string, string>): void {
    const named = new Map([...next].filter(([v]) => isServiceName(v)));
    const before = this.current;
    this.current = named;
    for (const [vip] of before) if (!named.has(vip)) this.emit(vip, undefined);
    for (const [vip, addr] of named) if (before.get(vip) !== addr) this.emit(vip, addr);
  }

  private emit(vip: string, addr: string | undefined): void {
    for (const h of this.handlers) this.call(h, vip, addr);
  }

  private call(h: VipHandler, vip: string, addr: string | undefined): void {
    try {
      h(vip, addr);
    } catch {
      this.handlerErrors++;
    }
  }
}

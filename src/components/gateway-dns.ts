// The DNS server on the overlay gateway: containers on the Docker network `weft` (or on the
// bridge by hand) resolve *.weft.internal with `--dns <gateway>`. The gateway exists only
// once the lease is held and the bridge holds it, and moves with the lease, so this follows
// the overlay's passes: bound on the current gateway of the current DNS server, nowhere else.
import type { DnsServer } from '../../dns/index.js';
import { DEFAULTS as OVERLAY_DEFAULTS, gatewayAddr, type OverlayStatus } from '../../overlay/index.js';
import { parsePrefix } from '../../overlay/cidr.js';
import type { Log } from '../../base/log.js';
import type { DnsHandle } from './dns-child.js';

export class GatewayDns {
  private bound: { server: DnsServer; addr: string } | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lastError = '';
  private readonly port = OVERLAY_DEFAULTS.gatewayDnsPort;

  constructor(
    private readonly dns: DnsHandle,
    private readonly log: Log,
  ) {}

  /** After an overlay pass: listen on the held lease's gateway (one at a time, in order). */
  follow(st: OverlayStatus): void {
    const p = st.state === 'held' && st.bridge && st.lease ? parsePrefix(st.lease.subnet) : undefined;
    const gateway = p ? gatewayAddr(p) : undefined;
    this.chain = this.chain.then(() => this.bindTo(gateway));
  }

  async stop(): Promise<void> {
    this.chain = this.chain.then(() => this.bindTo(undefined, true));
    await this.chain;
  }

  private async bindTo(gateway: string | undefined, stopping = false): Promise<void> {
    const server = stopping ? undefined : this.dns.current;
    if (this.bound && (this.bound.server !== server || this.bound.addr !== gateway)) {
      await this.bound.server.stopListening(this.bound.addr, this.port).catch(() => {});
      this.bound = undefined;
    }
    if (!server || !gateway || this.bound) return;
    try {
      await server.listenOn({ addr: gateway, port: this.port });
      this.bound = { server, addr: gateway };
      this.lastError = '';
    } catch (err) {
      const msg = `DNS on the overlay gateway ${gateway}:${this.port}: ${(err as Error).message}`;
      if (msg !== this.lastError) this.log.warn({}, msg);
      this.lastError = msg;
    }
  }
}

// The VIP attacks (README "Security"; `npm run bench -- hostile --only vip`), each against
// real components: the nft datapath programming a network namespace of its own (root, nft, ip), real TCP/UDP
// processes in other namespaces, and a real agent on loopback. Used by
// `npm run bench -- hostile` and by lb/vip-hostile.system.test.ts and
// src/vip-claims.e2e.test.ts, so the attack code exists once.
//
//   literal-vip-own-address  a peer's records declare VIPs on the node's own address, on
//                            127.0.0.1, on 169.254.169.254 and 0.0.0.0, backed by an
//                            attacker's server. Held when the node's own service still
//                            answers (from another host and from the node itself) and no
//                            such VIP is programmed.
//   vip-traffic-leaves-host  a VIP is removed; connections to its old address and to an
//                            unused address of the VIP CIDR, from the node and from a
//                            "container" routed through it. Held when no packet reaches
//                            the uplink (an nft counter on the router) and TCP is refused
//                            at once rather than timing out.
//   vip-address-moved        in a full /29, VIPs alpha..zeta are declared through the API,
//                            then eta. Held when no existing VIP's address changed.
import { LocalStore } from '../../crdt-store/local-store.js';
import { LbDriver } from '../../lb/driver.js';
import { startAgent, type Teardown } from '../../test/helpers/agent-process.js';
import { endpoint, pipe } from '../../test/helpers/dns.js';
import { NetLab, type Host, type LabClient } from '../../test/helpers/netns.js';
import { missing } from '../../test/helpers/system.js';
import type { AttackResult } from './result.js';

const VIP_CIDR = '198.18.0.0/15';

/** Teardown for code outside tap: functions run in reverse order by `done()`, even after a failure. */
class Cleanup implements Teardown {
  private readonly fns: (() => void | Promise<void>)[] = [];
  teardown(fn: () => void | Promise<void>): void {
    this.fns.push(fn);
  }
  async done(): Promise<void> {
    for (const fn of this.fns.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => {});
  }
}

async function guarded(name: string, f: (c: Cleanup) => Promise<AttackResult>): Promise<AttackResult> {
  const c = new Cleanup();
  try {
    return await f(c);
  } catch (err) {
    return { name, held: false, detail: `the attack could not run: ${(err as Error).message}` };
  } finally {
    await c.done();
  }
}

/** A store for the node under attack, and a peer's store piped into it (records another node wrote). */
function stores(): { store: LocalStore; peer: LocalStore } {
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  const peer = new LocalStore({ name: 'n2', clock: () => Date.now() });
  pipe(peer, store);
  store.setAlive(['n2']);
  return { store, peer };
}

export async function literalVipOnOwnAddress(opts: { smoke: boolean }): Promise<AttackResult> {
  const name = 'literal-vip-own-address';
  return guarded(name, async (c) => {
    const lab = await NetLab.create(c, { tag: 'vo' });
    const node = await lab.addHost(1);
    const other = await lab.addHost(2);
    const attacker = await lab.addHost(3);
    // The node's own service on every address (as an API or gossip port would be).
    await lab.backend(node, 'own', { tcp: 9000, udp: 0 });
    await lab.backend(attacker, 'hijack', { tcp: 8080, udp: 0 });
    const { store, peer } = stores();
    store.put('node/n1', { addr: node.addr });
    const hostile = [
      { vip: node.addr, port: 9000 },
      { vip: '127.0.0.1', port: 9000 },
      { vip: '169.254.169.254', port: 80 },
      { vip: '0.0.0.0', port: 9000 },
    ];
    peer.put(
      'svc/evil/n2/x',
      endpoint('evil', [attacker.addr], {
        vips: hostile.map((h) => ({ vip: h.vip, port: h.port, proto: 'tcp' as const, targetPort: 8080 })),
      }),
    );
    peer.put(`vip/${node.addr}:9000/tcp`, { vip: node.addr, port: 9000, proto: 'tcp' }, { shared: true });
    // The lab's subnet is allowed for literal VIPs: the node's own address must be refused as such, not merely as out of range.
    const lb = await LbDriver.start({
      source: store,
      datapath: 'nft',
      netns: node.ns,
      vipCidr: VIP_CIDR,
      vipAllow: [`${lab.subnet}.0/24`],
      table: 'weftvo',
      iface: 'weftvo0',
    });
    c.teardown(() => lb.cleanup());
    await lb.reconcileNow(true);
    const n = opts.smoke ? 10 : 50;
    const fromOther: LabClient = await lab.client(other);
    const fromNode: LabClient = await lab.client(node);
    const remote = await fromOther.tcp(node.addr, 9000, n);
    const local = await fromNode.tcp('127.0.0.1', 9000, n);
    const self = await fromNode.tcp(node.addr, 9000, n);
    const programmed = lb.status().vips.filter((v) => hostile.some((h) => v.vip === h.vip)).length;
    const status = lb.status() as { refused?: { key: string; reason: string }[] };
    const ownOk = (x: Record<string, number>) => x.own === n;
    const held = ownOk(remote) && ownOk(local) && ownOk(self) && programmed === 0;
    return {
      name,
      held,
      forged_accepted: programmed,
      detail: `own service from another host ${JSON.stringify(remote)}, from the node via 127.0.0.1 ${JSON.stringify(local)} and via its address ${JSON.stringify(self)}; hostile VIPs programmed: ${programmed}, refused: ${status.refused?.map((r) => `${r.key} (${r.reason})`).join(', ') ?? 'n/a'}`,
      figures: { vip_hijacked_connections: n * 3 - (remote.own ?? 0) - (local.own ?? 0) - (self.own ?? 0) },
    };
  });
}

/** Packets the router saw for the VIP CIDR (a counter in its prerouting hook). */
async function routerCounter(lab: NetLab, router: Host): Promise<number> {
  const out = await lab.exec(router.ns, ['nft', 'list', 'chain', 'ip', 'probe', 'pre']);
  return Number(/counter packets (\d+)/.exec(out)?.[1] ?? NaN);
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, Math.round(performance.now() - t0)];
}

export async function vipTrafficLeavesHost(opts: { smoke: boolean }): Promise<AttackResult> {
  const name = 'vip-traffic-leaves-host';
  return guarded(name, async (c) => {
    const lab = await NetLab.create(c, { tag: 'vl' });
    const node = await lab.addHost(1);
    const backend = await lab.addHost(3);
    const container = await lab.addHost(4);
    const router = await lab.addHost(254);
    await lab.backend(backend, 'b3', { tcp: 8080, udp: 8081 });
    // The node's uplink: a default route to the router, which counts what reaches it for the VIP CIDR.
    await lab.exec(node.ns, ['ip', 'route', 'add', 'default', 'via', router.addr]);
    await lab.exec(node.ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // A container's traffic is routed through the node.
    await lab.exec(container.ns, ['ip', 'route', 'add', VIP_CIDR, 'via', node.addr]);
    await lab.exec(
      router.ns,
      ['nft', '-f', '-'],
      `table ip probe {\n  chain pre {\n    type filter hook prerouting priority -300; policy accept;\n    ip daddr ${VIP_CIDR} counter\n  }\n}\n`,
    );

    const { store } = stores();
    const key = 'svc/web/n1/b3';
    store.put(
      key,
      endpoint('web', [backend.addr], {
        vips: [
          { vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 },
          { vip: 'web', port: 53, proto: 'udp', targetPort: 8081 },
        ],
      }),
    );
    const lb = await LbDriver.start({
      source: store,
      datapath: 'nft',
      netns: node.ns,
      vipCidr: VIP_CIDR,
      table: 'weftvl',
      iface: 'weftvl0',
    });
    c.teardown(() => lb.cleanup());
    const vip = lb.vips.get('web')!;
    const fromNode = await lab.client(node);
    const fromContainer = await lab.client(container);
    const live = await fromNode.tcp(vip, 80, 5);
    if (live.b3 !== 5) throw new Error(`the live VIP ${vip} does not work: ${JSON.stringify(live)}`);
    store.delete(key); // `vip rm`: the VIP's only record is gone
    await lb.reconcileNow();
    const unused = vip === '198.18.200.200' ? '198.18.200.201' : '198.18.200.200';
    const n = opts.smoke ? 3 : 10;
    const before = await routerCounter(lab, router);
    const [oldTcp, oldMs] = await timed(() => fromNode.tcp(vip, 80, n));
    const [unusedTcp, unusedMs] = await timed(() => fromNode.tcp(unused, 443, n));
    const oldUdp = await fromNode.udp(vip, 53, n);
    const [fwdTcp, fwdMs] = await timed(() => fromContainer.tcp(unused, 80, n));
    const fwdUdp = await fromContainer.udp(vip, 53, n);
    const leaked = (await routerCounter(lab, router)) - before;
    const slowest = Math.max(oldMs, unusedMs, fwdMs);
    const reached = (x: Record<string, number>) => n - (x.error ?? 0);
    const answered = reached(oldTcp) + reached(unusedTcp) + reached(fwdTcp) + reached(oldUdp) + reached(fwdUdp);
    // Refused locally: TCP fails at once (a reset), not after the client's 3 s timeout.
    const held = leaked === 0 && answered === 0 && slowest < 1000;
    return {
      name,
      held,
      detail: `after the VIP ${vip} was removed: ${leaked} packets reached the uplink; TCP to the old address failed in ${oldMs} ms, to an unused one ${unusedMs} ms, from a container ${fwdMs} ms`,
      figures: { vip_packets_leaked: leaked, vip_refuse_ms: slowest },
    };
  });
}

export async function vipAddressMoved(opts: { smoke: boolean }): Promise<AttackResult> {
  const name = 'vip-address-moved';
  void opts;
  return guarded(name, async (c) => {
    // A /29: 6 addresses, all taken by the first six VIPs.
    const a = await startAgent(c, [
      '--node',
      'vm',
      '--bind',
      '127.0.9.1',
      '--bind-port',
      '0',
      '--proxy-cidr',
      '127.205.0.0/16',
      '--vip-cidr',
      '198.18.0.0/29',
    ]);
    const api = a.ready.api!;
    const add = async (vip: string) => {
      const r = await fetch(`${api}/v1/vips`, {
        method: 'POST',
        body: JSON.stringify({ vip: `${vip}:80` }),
        headers: { 'content-type': 'application/json' },
      });
      if (r.status !== 201) throw new Error(`POST /v1/vips ${vip}: ${r.status} ${await r.text()}`);
      await new Promise((r) => setTimeout(r, 5)); // distinct claim times
    };
    const addrs = async (want: number) => {
      for (let i = 0; i < 200; i++) {
        const s = (await (await fetch(`${api}/v1/vips`)).json()) as { vips: { vip: string; addr?: string }[] };
        if (s.vips.length >= want) return new Map(s.vips.map((v) => [v.vip, v.addr]));
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`the load balancer never listed ${want} VIPs`);
    };
    const first = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
    for (const v of first) await add(v);
    const before = await addrs(first.length);
    await add('eta');
    const after = await addrs(first.length + 1);
    const moved = first.filter((v) => after.get(v) !== before.get(v));
    return {
      name,
      held: moved.length === 0,
      detail: moved.length
        ? `adding eta moved ${moved.map((v) => `${v} ${before.get(v)} -> ${after.get(v) ?? 'none'}`).join(', ')}`
        : `no VIP moved; eta got ${after.get('eta') ?? 'no address (the CIDR is full)'}`,
      figures: { vip_addresses_moved: moved.length },
    };
  });
}

export async function runVipAttacks(opts: { smoke: boolean }): Promise<AttackResult[]> {
  const out: AttackResult[] = [];
  const why = missing({ root: true, commands: ['nft', 'ip'] });
  if (why) {
    for (const name of ['literal-vip-own-address', 'vip-traffic-leaves-host'])
      out.push({ name, held: false, detail: `not run: ${why}` });
  } else {
    out.push(await literalVipOnOwnAddress(opts));
    out.push(await vipTrafficLeavesHost(opts));
  }
  out.push(await vipAddressMoved(opts));
  return out;
}

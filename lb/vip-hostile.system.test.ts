// Issue 12, items 8 and 9, in network namespaces with the nft datapath (root, nft, ip): the
// attacks live in bench/hostile/vip.ts (also run by `npm run bench -- hostile`); here each
// must hold.
import t from 'tap';
import { literalVipOnOwnAddress, vipTrafficLeavesHost } from '../bench/hostile/vip.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ root: true, commands: ['nft', 'ip'] });

t.test("literal VIPs on the node's own address, 127.0.0.1, 169.254.169.254, 0.0.0.0 from a peer's records: refused; the node's own service stays reachable", { skip }, async (t) => {
  const r = await literalVipOnOwnAddress({ smoke: true });
  t.ok(r.held, r.detail);
  t.equal(r.forged_accepted, 0, 'no hostile VIP programmed');
});

t.test('after vip rm, and for an unused address of the VIP CIDR: refused on the node, nothing leaves on the uplink', { skip }, async (t) => {
  const r = await vipTrafficLeavesHost({ smoke: true });
  t.ok(r.held, r.detail);
  t.equal(r.figures?.vip_packets_leaked, 0, 'no packet reached the router');
});

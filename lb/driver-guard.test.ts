// The load balancer refuses hostile literal VIPs from the store (another node's records):
// left out of the datapath, logged once per VIP (not once per pass), counted by reason,
// and shown in status(). Userspace datapath: no root needed.
import t from 'tap';
import { Registry } from 'prom-client';
import { endpoint, newStore, pipe } from '../test/helpers/dns.js';
import { LbDriver } from './driver.js';

t.test('hostile literal VIPs in the store: refused, logged once, counted', async (t) => {
  const store = newStore('n1');
  const peer = newStore('n2');
  pipe(peer, store);
  store.setAlive(['n2']);
  store.put('node/n1', { addr: '10.60.0.1' });
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, error() {}, warn: (_o: object, msg: string) => void warnings.push(msg) };
  const registry = new Registry();
  const lb = await LbDriver.start({
    source: store,
    datapath: 'userspace',
    proxyCidr: '127.206.0.0/16',
    vipAllow: ['10.60.0.0/24'],
    log,
    registry,
  });
  t.teardown(() => lb.stop());
  peer.put(
    'svc/evil/n2/x',
    endpoint('evil', ['10.60.0.9'], {
      vips: [
        { vip: '127.0.0.1', port: 22, proto: 'tcp', targetPort: 22 },
        { vip: '10.60.0.1', port: 7946, proto: 'udp', targetPort: 7946 },
      ],
    }),
  );
  peer.put('vip/169.254.169.254:80/tcp', { vip: '169.254.169.254', port: 80, proto: 'tcp' }, { shared: true });
  for (let i = 0; i < 5; i++) await lb.reconcileNow(i % 2 === 0);
  const s = lb.status();
  t.same(s.vips, [], 'nothing programmed');
  t.same(
    s.refused.map((r) => [r.key, r.reason]),
    [
      ['10.60.0.1:7946/udp', 'member_address'],
      ['127.0.0.1:22/tcp', 'loopback'],
      ['169.254.169.254:80/tcp', 'link_local'],
    ],
  );
  t.equal(
    warnings.filter((w) => /refused VIP/.test(w)).length,
    3,
    `one log line per VIP across 5 passes: ${warnings.join(' | ')}`,
  );
  const metrics = await registry.metrics();
  t.match(metrics, /weft_lb_refused_vips_total\{reason="loopback"\} 1/);
  t.match(metrics, /weft_lb_refused_vips_total\{reason="member_address"\} 1/);
  t.equal(lb.refusal('127.0.0.1')?.reason, 'loopback', 'the API asks the same guard');
  t.equal(lb.refusal('10.60.0.1')?.reason, 'member_address');
  t.equal(lb.refusal('10.60.0.2'), undefined);
  // The store keeps what it holds: refusing is the reader's business, not a deletion.
  t.ok(store.get('vip/169.254.169.254:80/tcp'));
});

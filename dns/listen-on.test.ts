// A running DNS server takes one more listen address and gives it back (the overlay gateway
// of src/components/gateway-dns.ts), over real sockets on loopback, asked by dig.
import t from 'tap';
import { DnsServer } from './server.js';
import { dig, endpoint, newStore } from '../test/helpers/dns.js';
import { skipUnless } from '../test/helpers/system.js';

t.test('listenOn adds an address while serving, stopListening closes it', { skip: skipUnless({ commands: ['dig'] }) }, async (t) => {
  const s = newStore('n1');
  s.put('svc/web/n1/a', endpoint('web', ['10.1.0.1']));
  const dns = await DnsServer.start({ source: s, listen: [{ addr: '127.0.5.11', port: 0 }], nodeName: 'n1', forward: false });
  t.teardown(() => dns.stop());
  await dns.listenOn({ addr: '127.0.5.12', port: 0 });
  await dns.listenOn({ addr: '127.0.5.12', port: 0 }); // already there: a no-op
  t.equal(dns.addresses.length, 2, 'bound once on the new address');
  const extra = dns.addresses[1]!;
  const r = await dig(extra.addr, extra.port, ['web.svc.weft.internal', 'A']);
  t.same(r.answer.map((a) => a.at(-1)), ['10.1.0.1'], 'answers on the added address');
  await dns.stopListening(extra.addr, extra.port);
  t.equal(dns.addresses.length, 1);
  const gone = await dig(extra.addr, extra.port, ['web.svc.weft.internal', 'A']).catch(() => undefined);
  t.notOk(gone?.answer.length, 'nothing answers there any more');
  const first = dns.addresses[0]!;
  t.same((await dig(first.addr, first.port, ['web.svc.weft.internal', 'A'])).answer.map((a) => a.at(-1)), ['10.1.0.1'], 'the configured address still answers'); // prettier-ignore
}); // prettier-ignore

// Endpoints (endpoints.ts): who a store hears, by address and port.
import t from 'tap';
import { Endpoints } from './endpoints.js';

t.test('an endpoint is known by its address and port together', async (t) => {
  const e = new Endpoints([
    { addr: '127.0.0.1', port: 7001 },
    { addr: '127.0.0.1', port: 7002 },
    { addr: '127.0.0.1', port: 7001 },
    { addr: '127.0.0.1', port: 7003 },
    { addr: '10.0.0.2', port: 7001 },
  ]);
  for (const port of [7001, 7002, 7003]) t.ok(e.has({ addr: '127.0.0.1', port }), `127.0.0.1:${port}`);
  t.ok(e.has({ addr: '10.0.0.2', port: 7001 }));
  t.notOk(e.has({ addr: '10.0.0.2', port: 7002 }), 'a known address on another port');
  t.notOk(e.has({ addr: '127.0.0.1', port: 7004 }));
  t.notOk(e.has({ addr: '10.0.0.3', port: 7001 }), 'a known port at another address');
  t.ok(e.hasAddr('10.0.0.2'));
  t.notOk(e.hasAddr('10.0.0.3'));
  t.notOk(new Endpoints().has({ addr: '127.0.0.1', port: 7001 }), 'none');
});

// A failed overlay pass is retried with backoff on the reconcile runner, not only at the
// next period. The failure: an underlay address on no device of this host (TEST-NET-1), so
// every pass stops before touching the kernel; only `ip -json addr show` runs (no root).
import t from 'tap';
import { skipUnless } from '../test/helpers/system.js';
import { eventually } from '../test/helpers/eventually.js';
import { newStore } from '../test/helpers/dns.js';
import { OverlayDriver } from './driver.js';

const skip = skipUnless({ commands: ['ip'] });

t.test('a failing pass is retried within seconds, as a full pass, and says why', { skip }, async (t) => {
  const lines: string[] = [];
  const log = {
    debug() {},
    info() {},
    warn: (_o: object, m: string) => void lines.push(m),
    error: (_o: object, m: string) => void lines.push(m),
  };
  // A period far longer than the test: any pass after the first is a retry.
  const o = await OverlayDriver.start({
    store: newStore('h1'),
    node: 'h1',
    underlay: '192.0.2.77',
    log,
    reconcileEveryMs: 600_000,
  });
  t.teardown(() => o.stop());
  t.equal(o.status().state, 'waiting');
  t.match(o.status().lastReconcile, { ok: false, error: /192\.0\.2\.77 is on no device/ });
  await eventually('three retries', () => o.status().reconciles >= 4, 30_000, 50);
  t.match(o.status().lastReconcile, { ok: false, full: true, changed: false });
  t.equal(lines.filter((l) => l.includes('192.0.2.77')).length, 1, 'the problem is logged once, not per retry');
});

// Nothing in membership may throw out of a socket or timer callback: there it would be an
// uncaught exception, and the daemon exits on those (issue 12).
import t from 'tap';
import { Membership } from './membership.js';
import { makeConfig } from './core/config.js';
import { eventually } from '../test/helpers/eventually.js';

const config = makeConfig('lan', { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50 });

t.test('a throwing event listener is counted and logged, and gossip goes on', async (t) => {
  const errors: string[] = [];
  const a = await Membership.start({
    name: 'a',
    bindAddr: '127.0.0.1',
    bindPort: 0,
    config,
    onError: (e, ctx) => errors.push(`${ctx}: ${e.message}`),
  });
  t.teardown(() => a.close());
  a.on('join', () => {
    throw new Error('listener bug');
  });
  const b = await Membership.start({ name: 'b', bindAddr: '127.0.0.1', bindPort: 0, config });
  t.teardown(() => b.close());
  await b.join([`127.0.0.1:${a.local.port}`]);
  await eventually('a and b see each other', () => a.members().length === 2 && b.members().length === 2, 5000);
  t.ok(a.stats().listenerErrors >= 1, 'counted');
  t.ok(
    errors.some((e) => e.includes('listener bug')),
    'logged',
  );
  await new Promise((r) => setTimeout(r, 500));
  t.equal(a.members().find((m) => m.name === 'b')?.state, 'alive', 'still probing and answering');
});

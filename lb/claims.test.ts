import t from 'tap';
import { endpoint, newStore } from '../test/helpers/dns.js';
import { parseCidr } from './allocator.js';
import { MAX_CLAIM_AHEAD_MS, stampClaims, vipClaims } from './claims.js';
import { computeDesired } from './desired.js';
import { RecordIndex } from './records.js';

const bind = (vip: string, since?: number) => ({
  vip,
  port: 80,
  proto: 'tcp' as const,
  targetPort: 80,
  ...(since === undefined ? {} : { since }),
});

t.test('a VIP claims at the earliest since among its records; none is 0 (older versions)', async (t) => {
  const c = vipClaims(
    [
      {
        rec: {
          service: 's',
          addrs: [],
          ports: {},
          health: 'none',
          vips: [bind('web', 50), bind('api', 70)],
          source: 'api',
        },
      },
      {
        rec: {
          service: 's',
          addrs: [],
          ports: {},
          health: 'none',
          vips: [bind('web', 20), bind('old')],
          source: 'api',
        },
      },
    ],
    [
      { vip: 'db', port: 1, proto: 'tcp', since: 9 },
      { vip: 'web', port: 81, proto: 'tcp', since: 30 },
    ],
  );
  t.same([...c].sort(), [
    ['api', 70],
    ['db', 9],
    ['old', 0],
    ['web', 20],
  ]);
});

t.test(
  "writers stamp: the previous record's claim, else the VIP's current claim, else now (after the latest seen)",
  async (t) => {
    const s = newStore('n1');
    s.put('svc/web/n2/a', endpoint('web', ['10.0.0.1'], { vips: [bind('web', 1000)] }));
    s.put('vip/db:5432/tcp', { vip: 'db', port: 5432, proto: 'tcp', since: 2000 }, { shared: true });
    const now = 10_000;
    t.same(
      stampClaims([bind('web')], undefined, s, now).map((b) => b.since),
      [1000],
      'an existing VIP: its claim',
    );
    t.same(
      stampClaims([bind('db')], undefined, s, now).map((b) => b.since),
      [2000],
      'declared ones count',
    );
    t.same(
      stampClaims([bind('new')], undefined, s, now).map((b) => b.since),
      [now],
      'a new VIP: now',
    );
    t.same(
      stampClaims([bind('web')], [bind('web', 5)], s, now).map((b) => b.since),
      [5],
      'a rewrite keeps its claim',
    );
    t.same(
      stampClaims([bind('new')], undefined, s, 1500).map((b) => b.since),
      [2001],
      'a writer whose clock is behind: after the latest claim it has seen',
    );
    s.put(
      'vip/far:1/tcp',
      { vip: 'far', port: 1, proto: 'tcp', since: now + MAX_CLAIM_AHEAD_MS + 1 },
      { shared: true },
    );
    t.same(
      stampClaims([bind('new')], undefined, s, now).map((b) => b.since),
      [now],
      'a claim far in the future is not followed',
    );
  },
);

t.test(
  "a rolling restart of backends keeps the VIP's claim, so its address, against a VIP that claimed in between",
  async (t) => {
    const cidr = parseCidr('10.9.0.0/30'); // 2 slots
    const { allocate } = await import('./allocator.js');
    const alone = (n: string) => allocate([n], cidr).addrs.get(n);
    let pair: [string, string] | undefined;
    for (let i = 0; !pair && i < 50; i++)
      for (let j = i + 1; !pair && j < 50; j++) if (alone(`a${i}`) === alone(`a${j}`)) pair = [`a${i}`, `a${j}`];
    const [web, other] = pair!; // both want the same first slot
    const s = newStore('n1');
    const idx = new RecordIndex();
    t.teardown(idx.attach(s, () => {}));
    const put = (key: string, vip: string, now: number) => {
      const prev = s.get(key, { view: 'all' });
      const vips = stampClaims(
        [bind(vip)],
        prev ? (prev.value as { vips: { vip: string; since?: number }[] }).vips : undefined,
        s,
        now,
      );
      s.put(key, endpoint('svc', ['10.0.0.1'], { vips }));
    };
    put('svc/svc/n1/a', web, 1000);
    put('svc/svc/n1/o', other, 2000);
    const addr = () => computeDesired(idx.endpoints.values(), idx.declared.values(), cidr).addrs.get(web);
    const first = addr();
    t.equal(first, alone(web), `${web} claimed first and holds its slot`);
    put('svc/svc/n1/b', web, 3000); // a second backend, after the other VIP
    s.delete('svc/svc/n1/a'); // the first backend goes
    t.equal(addr(), first, `${web} keeps ${first}: the new backend inherited its claim`);
  },
);

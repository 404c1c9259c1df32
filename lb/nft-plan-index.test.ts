import t from 'tap';
import fc from 'fast-check';
import type { DesiredVip } from './desired.js';
import { planNft, renderDiff, type NftPlan } from './nft-plan.js';
import { PlanIndex } from './nft-plan-index.js';

// VIP keys with their addresses fixed (each key its own map key), backends from a small
// pool so that hairpin elements and VIP addresses are shared between VIPs.
const KEYS: [string, string, number, 'tcp' | 'udp', string, string | undefined][] = [
  ['a:80/tcp', 'a', 80, 'tcp', '198.18.0.1', 'fd00:5::1'],
  ['a:443/tcp', 'a', 443, 'tcp', '198.18.0.1', 'fd00:5::1'],
  ['b:80/tcp', 'b', 80, 'tcp', '198.18.0.2', undefined],
  ['c:53/udp', 'c', 53, 'udp', '198.18.0.3', 'fd00:5::3'],
  ['10.99.0.7:80/tcp', '10.99.0.7', 80, 'tcp', '10.99.0.7', undefined],
  ['bad:80/tcp', 'bad', 80, 'tcp', 'not-an-ip', undefined],
];
const backend = fc.record({
  addr: fc.constantFrom('10.1.0.1', '10.1.0.2', '10.1.0.3'),
  port: fc.constantFrom(8080, 9000),
});
const backend6 = fc.record({ addr: fc.constantFrom('fd00:1::1', 'fd00:1:0::2'), port: fc.constant(8080) });
const vipArb = (i: number) =>
  fc
    .record({
      backends: fc.uniqueArray(backend, { maxLength: 3, selector: (b) => `${b.addr} ${b.port}` }),
      backends6: fc.uniqueArray(backend6, { maxLength: 2, selector: (b) => b.addr }),
      six: fc.constantFrom(0, 1, 2),
      moved: fc.boolean(),
    })
    .map(({ backends, backends6, six, moved }): DesiredVip => {
      const [key, vip, port, proto, a, addr6] = KEYS[i];
      // Moved: another IPv4 address with the same backends.
      const addr = moved ? a.replace(/\.(\d+)$/, '.1$1') : a;
      const v: DesiredVip = { key, vip, addr, port, proto, backends };
      // 2: another IPv6 address with the same backends (a new claim elsewhere).
      return addr6 && six ? { ...v, addr6: six === 2 ? `${addr6}9` : addr6, backends6 } : v;
    });
/** One state of the table: a subset of the keys, each with its backends, in key order. */
const stateArb = fc
  .tuple(...KEYS.map((_, i) => fc.option(vipArb(i), { nil: undefined })))
  .map((vs) => vs.filter((v): v is DesiredVip => v !== undefined).sort((a, b) => (a.key < b.key ? -1 : 1)));

/** A script as a set of single commands (each element of an element line on its own). */
function commands(script: string | undefined): string[] {
  const out: string[] = [];
  for (const line of (script ?? '').split('\n').filter(Boolean)) {
    const m = /^(add|delete) element (\S+ \S+ \S+) \{ (.*) \}$/.exec(line);
    if (m) for (const e of m[3].split(', ')) out.push(`${m[1]} element ${m[2]} ${e}`);
    else out.push(line);
  }
  return out.sort();
}

const plain = (p: NftPlan) => ({
  chains: [...p.chains].sort(),
  vmap: [...p.vmap].sort(),
  vipAddrs: [...p.vipAddrs].sort(),
  hairpin: [...p.hairpin].sort(),
  range: [...p.range].sort(),
  skipped: p.skipped,
});

t.test('the index follows any sequence of tables: planNft plan, renderDiff commands', async (t) => {
  fc.assert(
    fc.property(
      fc.array(stateArb, { minLength: 1, maxLength: 12 }),
      fc.constantFrom('none' as const, 'source' as const),
      (states, affinity) => {
        const range = ['198.18.0.0/15'];
        const idx = new PlanIndex(states[0], affinity, range);
        let prev = planNft(states[0], affinity, range);
        if (JSON.stringify(plain(idx.plan)) !== JSON.stringify(plain(prev))) throw new Error('first plans differ');
        for (const s of states.slice(1)) {
          const u = idx.update(s);
          if (!u) throw new Error('no map key is shared here: the index must follow');
          const next = planNft(s, affinity, range);
          const want = commands(renderDiff(prev, next));
          const got = commands(renderDiff(u.from, u.to));
          if (JSON.stringify(got) !== JSON.stringify(want))
            throw new Error(`commands differ\n got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`);
          if (JSON.stringify(plain(idx.plan)) !== JSON.stringify(plain(next))) throw new Error('plans differ');
          if (u.addrsChanged !== (JSON.stringify(plain(prev).vipAddrs) !== JSON.stringify(plain(next).vipAddrs)))
            throw new Error('addrsChanged is wrong');
          prev = next;
        }
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('1,000 random sequences of tables');
});

t.test('one VIP changed among many: only its commands', async (t) => {
  const vips: DesiredVip[] = Array.from({ length: 300 }, (_, i) => ({
    key: `v${i}:80/tcp`,
    vip: `v${i}`,
    addr: `198.18.${i >> 8}.${(i & 255) + 1}`,
    port: 80,
    proto: 'tcp',
    backends: [{ addr: `10.1.${i >> 8}.${i & 255}`, port: 8080 }],
  }));
  const idx = new PlanIndex(vips, 'none');
  const next = vips.map((v, i) => (i === 7 ? { ...v, backends: [{ addr: '10.9.9.9', port: 8080 }] } : v));
  const u = idx.update(next)!;
  const script = renderDiff(u.from, u.to)!;
  t.equal(
    script.split('\n').filter(Boolean).length,
    8,
    'a new chain (3 lines), map element out and in, hairpin out and in, the old chain deleted',
  );
  t.match(script, /v7:80\/tcp/);
  t.notMatch(script, /v8:80\/tcp/);
  t.equal(idx.update(next)!.from.chains.size, 0, 'the same again: nothing');
});

t.test('two VIPs on one map key: the index gives up, the caller plans the whole table', async (t) => {
  const v = (key: string, vip: string): DesiredVip => ({
    key,
    vip,
    addr: 'fd00:5::3',
    port: 80,
    proto: 'tcp',
    backends: [{ addr: 'fd00:1::1', port: 80 }],
  });
  const idx = new PlanIndex([v('fd00:5::3:80/tcp', 'fd00:5::3'), v('fd00:5:0::3:80/tcp', 'fd00:5:0::3')], 'none');
  t.notOk(idx.incremental);
  t.equal(idx.update([]), undefined);
});

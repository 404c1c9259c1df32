// The open resolver (issue 12, item 6), against the real server in network namespaces: a
// client on another host (outside loopback, Docker bridges and the overlay) must not recurse,
// must still get weft's own names, cannot amplify more than 3x, and is rate-limited. The
// attack is bench/hostile/dns.ts's (the bench floods more).
import t from 'tap';
import { skipUnless } from '../test/helpers/system.js';
import { amplificationAttack } from '../bench/hostile/dns.js';

t.test(
  'a client outside the allowed networks: REFUSED outside the zone, answers inside, no amplification, rate-limited',
  { skip: skipUnless({ root: true, commands: ['ip'] }) },
  async (t) => {
    // A low rate limit, so that "limited" does not depend on how fast a loaded machine floods.
    const r = await amplificationAttack(t, { count: 2000, tag: 'rt', server: { rateLimit: { ratePerS: 200 } } });
    t.comment(
      JSON.stringify({
        ratioExternal: r.ratioExternal,
        ratioZone: r.ratioZone,
        floodExternal: r.floodExternal,
        floodZone: r.floodZone,
        floodSmall: r.floodSmall,
      }),
    );
    t.equal(r.external.rcode, 'REFUSED', 'an external name: REFUSED');
    t.equal(r.bigExternal.rcode, 'REFUSED', 'the big external record: REFUSED');
    t.equal(r.zoneName.rcode, 'NOERROR', 'a weft name: answered');
    t.equal(r.zoneName.answers, 1);
    t.ok(
      r.bigZone.tc && r.bigZone.bytes <= 3 * 60,
      `the biggest weft answer comes truncated over UDP (${r.bigZone.bytes} bytes): ask again over TCP`,
    );
    t.same(
      r.loopback,
      { rcode: 'NOERROR', addrs: ['192.0.2.1'] },
      "the forwarder's own loopback client still recurses",
    );
    t.ok(r.ratioExternal <= 3, `flood of the big external record: ${r.ratioExternal.toFixed(2)}x`);
    t.ok(r.ratioZone <= 3, `flood of the biggest weft answer: ${r.ratioZone.toFixed(2)}x`);
    const s = r.floodSmall;
    t.ok(s.full < s.sent / 2, `a flood of ${s.sent} small answers is rate-limited (200/s): ${s.full} full answers`);
    t.ok(s.truncated > 0, `some go out as truncated slips (${s.truncated}) so that a real client can retry over TCP`);
    t.ok((r.stats.rrlDropped as number) > 0, 'the rest are dropped and counted');
    t.ok((r.stats.recursionRefused as number) >= 2 + 2000, 'refusals are counted');
  },
);

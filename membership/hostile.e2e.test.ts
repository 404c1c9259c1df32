// Hostile input against real agents on loopback (issue 12): each attack lives in
// bench/hostile/gossip.ts, shared with `npm run bench -- hostile`; here it must hold.
import t from 'tap';
import { forgedIncarnationAttack, replayAttack, streamFloodAttack } from '../bench/hostile/gossip.js';

for (const keyed of [false, true]) {
  t.test(
    `a dead message at incarnation 2^53-1 ${keyed ? 'from a key holder' : '(no encryption)'} crashes no one and convinces no one`,
    async (t) => {
      const r = await forgedIncarnationAttack({ keyed, base: keyed ? '127.0.3' : '127.0.2' });
      t.equal(r.crashes, 0, `no agent exits${r.detail ? `: ${r.detail}` : ''}`);
      t.equal(r.forged_accepted, 0, 'every view holds every agent alive at a valid incarnation');
      t.ok(r.held, r.detail ?? 'held');
    },
  );
}

t.test(
  'a flood of streams announcing 4 MiB frames neither bloats the agent nor locks out a join and a store repair',
  async (t) => {
    const r = await streamFloodAttack({ smoke: true, base: '127.0.4' });
    t.comment(r.detail);
    t.equal(r.crashes, 0, 'the agent stays up');
    t.ok(
      r.figures!.rss_growth_mb_stream_flood! <= 32,
      `RSS growth ${r.figures!.rss_growth_mb_stream_flood} MB <= 32 MB`,
    );
    t.ok(r.figures!.stream_flood_join_ms! >= 0, 'a join and a store repair succeed during the flood');
  },
);

t.test('a captured encrypted gossip packet sent again is refused and counted', async (t) => {
  const r = await replayAttack({ base: '127.0.5' });
  t.comment(r.detail);
  t.equal(r.forged_accepted, 0, 'no second copy accepted');
  t.ok(r.held);
});

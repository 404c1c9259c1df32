// Hostile input against real agents on loopback (issue 12): each attack lives in
// bench/hostile/gossip.ts, shared with `npm run bench -- hostile`; here it must hold.
import t from 'tap';
import { forgedIncarnationAttack } from '../bench/hostile/gossip.js';

for (const keyed of [false, true]) {
  t.test(`a dead message at incarnation 2^53-1 ${keyed ? 'from a key holder' : '(no encryption)'} crashes no one and convinces no one`, async (t) => {
    const r = await forgedIncarnationAttack({ keyed, base: keyed ? '127.0.3' : '127.0.2' });
    t.equal(r.crashes, 0, `no agent exits${r.detail ? `: ${r.detail}` : ''}`);
    t.equal(r.forged_accepted, 0, 'every view holds every agent alive at a valid incarnation');
    t.ok(r.held, r.detail ?? 'held');
  });
}

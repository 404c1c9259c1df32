// Hostile peers against real agents on loopback (issue 12, item 2); the attacks themselves
// are bench/hostile/store.ts, which `npm run bench -- hostile` runs too.
import t from 'tap';
import { keyHolderEpoch, nonMemberForgery } from '../bench/hostile/store.js';

t.test('a non-member forging store datagrams changes nothing on any node', async (t) => {
  const r = await nonMemberForgery(t, { smoke: true });
  t.comment(r.detail ?? '');
  t.equal(r.forged_accepted, 0, 'no forged record, delete or VIP reached any agent');
  t.ok(r.held, r.detail ?? r.name);
});

t.test('a key holder forging n/node2 at far-future epochs does not lock node2 out', async (t) => {
  const r = await keyHolderEpoch(t, { smoke: true });
  t.comment(r.detail ?? '');
  t.equal(r.forged_accepted, 0, 'no agent shows the forged node2 records once node2 has written');
  t.ok(r.held, r.detail ?? r.name);
});

// Issue 12, item 7: the HTTP API against a web page (CSRF, DNS rebinding), slowloris,
// stalled watchers and unauthenticated writes, each on a real agent on loopback. The
// attacks themselves live in bench/hostile/api.ts (also run by `npm run bench -- hostile`).
import t from 'tap';
import { csrfAttack, rebindingAttack, RSS_BUDGET_MB, slowlorisAttack, stalledWatchersAttack, startApiAgent, unauthenticatedWriteAttack } from '../bench/hostile/api.js';
import { skipUnless } from '../test/helpers/system.js';

t.test('a web page cannot write through the API (CSRF) nor read it by DNS rebinding', async (t) => {
  const agent = await startApiAgent();
  t.teardown(() => agent.stop());
  const csrf = await csrfAttack(agent);
  t.ok(csrf.held, csrf.detail);
  const rebinding = await rebindingAttack(agent);
  t.ok(rebinding.held, rebinding.detail);
});

t.test('with a token configured, writes without it are refused', async (t) => {
  const r = await unauthenticatedWriteAttack();
  t.ok(r.held, r.detail);
});

t.test('slowloris does not exhaust the descriptors, and is cut within the header timeout', { skip: skipUnless({ commands: ['prlimit'] }) }, async (t) => {
  const r = await slowlorisAttack({ smoke: true });
  t.equal(r.figures?.api_fd_exhaustion, 0, `a normal request is answered during the attack: ${r.detail}`);
  t.equal(r.figures?.slowloris_open_after_15s, 0, `every slow connection is cut: ${r.detail}`);
  t.ok(r.held, r.detail);
});

t.test('200 stalled watchers cost a bounded RSS and are cut off', async (t) => {
  const r = await stalledWatchersAttack({ smoke: true });
  t.ok((r.figures?.rss_growth_mb_stalled_watchers ?? Infinity) <= RSS_BUDGET_MB, `RSS growth within ${RSS_BUDGET_MB} MB: ${r.detail}`);
  t.ok(r.held, r.detail);
});

// When the agent reads its DNS sockets beside its workers (agent-reading.ts): aside while a
// worker keeps up, back once one is busy for BUSY_REPORTS reports or none is left, and the
// tries at stepping aside again spaced further apart while the load lasts.
import t from 'tap';
import { AgentReading, BUSY_REPORTS, HELP_AT, HOLD_MS, MAX_HOLD_MS, RELAY_AT, TRIAL_MS } from './agent-reading.js';

const CALM = 0.3;
const BUSY = HELP_AT;

/** Reports `n` times, 250 ms apart from `at`, all with the same load; returns the time after. */
function report(r: AgentReading, at: number, n: number, load: number, workers = 1): number {
  for (let i = 0; i < n; i++, at += 250) r.update(at, workers, load);
  return at;
}

t.test('reads while no worker reads, and steps aside at the first calm report of one', async (t) => {
  const r = new AgentReading();
  t.equal(r.update(0, 0, 0), true, 'no worker reading yet');
  t.equal(r.update(250, 1, CALM), false, 'a calm worker: the agent steps aside');
  t.equal(r.update(500, 0, 0), true, 'the worker gone: the agent reads at once');
  t.equal(r.update(750, 1, CALM), false, 'one back: aside again');
});

t.test('one busy report is not a load; BUSY_REPORTS in a row are', async (t) => {
  const r = new AgentReading();
  r.update(0, 1, CALM);
  t.equal(r.update(250, 1, BUSY), false, 'one busy report');
  t.equal(r.update(500, 1, CALM), false, 'calm again');
  let at = report(r, 750, BUSY_REPORTS - 1, BUSY);
  t.equal(r.reading, false, 'not yet');
  r.update(at, 1, BUSY);
  t.equal(r.reading, true, `${BUSY_REPORTS} busy reports: the agent helps`);
  at += 250;
  t.equal(r.update(at, 1, CALM), true, 'the worker is calmer with help: the agent stays');
  t.equal(r.update(at + HOLD_MS, 1, CALM), false, 'after the hold it tries stepping aside');
});

t.test('a worker relaying much of what it reads (names to forward) gets the agent reading too', async (t) => {
  const r = new AgentReading();
  t.equal(r.update(0, 1, CALM, 0.1), false, 'a few relays: aside');
  t.equal(r.update(TRIAL_MS, 1, CALM, RELAY_AT), false, 'one report of many');
  const at = TRIAL_MS + 250;
  t.equal(r.update(at, 1, CALM, RELAY_AT), true, 'two in a row: the agent reads');
  t.equal(r.update(at + HOLD_MS - 1, 1, CALM, RELAY_AT), true, 'while they last');
  t.equal(r.update(at + 2 * HOLD_MS - 2, 1, CALM, 0), true, 'a hold after the last of them');
  t.equal(r.update(at + 2 * HOLD_MS - 1, 1, CALM, 0), false, 'then aside');
});

t.test('help needed again within the trial doubles the hold, up to its cap; a good try resets it', async (t) => {
  const r = new AgentReading();
  t.equal(r.update(0, 1, BUSY), true, 'a busy report is no time to step aside');
  let at = report(r, 250, BUSY_REPORTS, BUSY);
  t.equal(r.reading, true, 'helping');
  let hold = HOLD_MS;
  const holds: number[] = [];
  for (let i = 0; i < 8; i++) {
    const helped = at - 250;
    t.equal(r.update(helped + hold - 1, 1, CALM), true, `still helping just before ${hold} ms`);
    at = helped + hold;
    t.equal(r.update(at, 1, CALM), false, `aside after ${hold} ms of help`);
    at = report(r, at + 250, BUSY_REPORTS, BUSY);
    t.equal(r.reading, true, 'helping again');
    holds.push(hold);
    hold = Math.min(2 * hold, MAX_HOLD_MS);
  }
  t.same(holds.slice(0, 4), [HOLD_MS, 2 * HOLD_MS, 4 * HOLD_MS, 8 * HOLD_MS], 'each failed try doubles the hold');
  t.equal(hold, MAX_HOLD_MS, 'up to its cap');
  at = at - 250 + hold;
  t.equal(r.update(at, 1, CALM), false, 'aside');
  at = report(r, at + TRIAL_MS, BUSY_REPORTS, BUSY);
  t.equal(r.reading, true, 'help needed again, but not within the trial');
  t.equal(r.update(at - 250 + HOLD_MS, 1, CALM), false, 'the hold is back to HOLD_MS');
});

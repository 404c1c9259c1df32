// Supervision as a property: the real supervision tree (supervisors/), shaped as the
// agent's (membership, store, dns, registrar, api under rest_for_one), with crashes
// injected into random components on a virtual clock. For every generated schedule:
//   - while crashes stay within the restart intensity, the tree never gives up and every
//     component is serving again after each crash;
//   - the tree gives up exactly when a crash is one too many in the window, as OTP's rule
//     (maxRestarts within periodMs) says, and never otherwise.
//
//   PROPS_RUNS (default 60), PROPS_SEED, PROPS_PATH as elsewhere.
import fc from 'fast-check';
import t from 'tap';
import { Supervisor, type ChildContext, type ChildSpec } from '../supervisors/index.js';
import { reportProperty } from './report.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 60);
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;
const COMPONENTS = ['membership', 'store', 'dns', 'registrar', 'api'];
const MAX_RESTARTS = 5;
const PERIOD_MS = 10_000;

interface Component {
  ctx?: ChildContext;
  serving: boolean;
  starts: number;
}

const settle = async (until: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!until() && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
  return until();
};

t.comment(`supervision props: ${RUNS} runs, intensity ${MAX_RESTARTS} restarts in ${PERIOD_MS} ms, PROPS_SEED=${SEED}`);

t.test('injected crashes: the agent keeps serving within the intensity, gives up exactly beyond it', async (t) => {
  let runs = 0;
  let crashes = 0;
  let gaveUpRuns = 0;
  let virtualMs = 0;
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          gapMs: fc.integer({ min: 0, max: 4000 }),
          target: fc.integer({ min: 0, max: COMPONENTS.length - 1 }),
        }),
        { minLength: 1, maxLength: 14 },
      ),
      async (schedule) => {
        runs++;
        let clock = 0;
        const comps = COMPONENTS.map((): Component => ({ serving: false, starts: 0 }));
        const children: ChildSpec[] = COMPONENTS.map((id, i) => ({
          id,
          restart: 'permanent',
          shutdownMs: 1000,
          async start(ctx) {
            const c = comps[i]!;
            c.ctx = ctx;
            c.starts++;
            c.serving = true;
            return {
              async stop() {
                c.serving = false;
              },
            };
          },
        }));
        const sup = new Supervisor({
          name: 'weft',
          strategy: 'rest_for_one',
          maxRestarts: MAX_RESTARTS,
          periodMs: PERIOD_MS,
          children,
          now: () => clock,
        });
        let gaveUp = false;
        void sup.gaveUp.then(() => (gaveUp = true));
        await sup.start();
        try {
          // The model: OTP's sliding window over restart times.
          let window: number[] = [];
          for (const [k, step] of schedule.entries()) {
            clock += step.gapMs;
            window = window.filter((x) => x >= clock - PERIOD_MS);
            window.push(clock);
            const shouldGiveUp = window.length > MAX_RESTARTS;
            crashes++;
            const startsBefore = comps[step.target]!.starts;
            comps[step.target]!.ctx!.crash(new Error(`injected crash ${k} of ${COMPONENTS[step.target]}`));
            if (shouldGiveUp) {
              if (!(await settle(() => gaveUp)))
                throw new Error(
                  `crash ${k} at ${clock} ms is the ${window.length}th in ${PERIOD_MS} ms, but the tree did not give up`,
                );
              gaveUpRuns++;
              return;
            }
            // Serving again means restarted (crash handling is asynchronous: the old incarnation may still look fine).
            const ok = await settle(
              () =>
                comps[step.target]!.starts > startsBefore &&
                comps.every((c) => c.serving) &&
                sup.status().every((s) => s.state === 'running'),
            );
            if (gaveUp)
              throw new Error(
                `the tree gave up at crash ${k} (${clock} ms) with only ${window.length} restarts in the window`,
              );
            if (!ok)
              throw new Error(
                `after crash ${k} of ${COMPONENTS[step.target]} not every component serves: ${JSON.stringify(sup.status())}`,
              );
            // rest_for_one: the crashed component and those after it were restarted, none before it.
            const restartedFrom = comps.findIndex((c) => c.starts > 1);
            if (restartedFrom !== -1 && restartedFrom < Math.min(...schedule.slice(0, k + 1).map((s) => s.target)))
              throw new Error(`a component before every crashed one was restarted`);
          }
        } finally {
          virtualMs += clock;
          if (!gaveUp) await sup.stop();
        }
      },
    ),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH, endOnFailure: true } : {}) },
  );
  t.pass(
    `${runs} runs, ${crashes} injected crashes; ${gaveUpRuns} runs exceeded the intensity and gave up exactly then`,
  );
  reportProperty(t, {
    property: 'supervision: serves within intensity, gives up beyond',
    runs,
    nodes: 1,
    simulatedMs: virtualMs,
    wallMs: performance.now() - started,
    seed: SEED,
  });
});

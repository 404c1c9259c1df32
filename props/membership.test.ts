// Cluster properties of membership, checked with fast-check over generated fault
// schedules in the deterministic simulator. Every run is a pure function of its inputs,
// so a failure replays exactly: fast-check prints its seed and path, the shrunk input,
// and the message below prints the schedule in words.
//
//   PROPS_RUNS   runs per property (default 30)
//   PROPS_NODES  cluster size (default 24)
//   PROPS_SEED   fast-check seed (default: random, printed)
//   PROPS_PATH   fast-check path, to replay one shrunk case with PROPS_SEED
//   PROPS_TIME_LIMIT_MS  time per property before fast-check stops (default 60 s);
//                a failure found by then is still reported, shrunk as far as it got
//
// Bounds are stated from the configuration (lan preset) for the cluster size n, and are
// meant to be tight: within 2x of the worst case observed over 200 runs, so a change that
// makes detection or healing twice as slow fails them (the old bounds, 4-5x the worst
// case, let a mutant 4.5x slower pass).
//   P     = probeInterval (1 s);
//   Smin(n) = suspicionMult * max(1, log10 n) * P, the shortest suspicion (Lifeguard: once
//           suspicionMult - 2 others confirm it), 5.52 s at n = 24;
//   S(n)  = suspicionMaxTimeoutMult * Smin(n), the longest (no confirmation at all), 33.1 s;
//   H     = healIntervalMs (10 s), the period of seed / dead-member retries.
// A crash is dead everywhere within Smin(n) + 10 P: in a connected cluster of n > 3 many
// members probe the victim, so its suspicion is confirmed and runs at the minimum; 10 P
// covers being probed, the direct and indirect probes, the confirmations and the verdict's
// dissemination, with up to 10 % loss. (15.5 s; worst seen 7.8-9.7 s over 200 runs, seeds 1,
// 2, 3, 18.)
// After faults stop, every live node agrees on the live set within max(S(n), 3 H) + 10 s
// (+ 5 s for a pause still running): crashed nodes time out (at worst unconfirmed, S(n))
// while cut-off nodes meet again on a heal retry (3 H), both at once; then 10 s for
// refutations and verdicts to spread. (48.1 s; worst seen 26.5-31.8 s.)
// A healed partition merges within max(3 H, S(n) + 2 P) + 10 s: heal retries reunite the
// sides, and a suspicion whose refutation was lost ends at the latest when it times out,
// with one last probe that the live suspect answers. (45.1 s; worst seen 24.8-31.8 s.)
// Measured with `PROPS_RUNS=200 PROPS_SEED=<s> npx tap props/membership.test.ts`.

import fc from 'fast-check';
import t from 'tap';
import { PropertyMeter } from './report.js';
import { makeConfig } from '../membership/core/config.js';
import { suspicionTimeout } from '../membership/core/math.js';
import { describeFaults, MembershipCluster, scheduleFaults, skewFromSeed, type Fault } from './sim/index.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 30);
const N = Number(process.env.PROPS_NODES ?? 24);
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;

const config = makeConfig('lan');
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
const SMIN = suspicionTimeout(config.suspicionMult, N, config.probeIntervalMs);
const S = config.suspicionMaxTimeoutMult * SMIN;
const H = config.healIntervalMs;
const CRASH_BOUND_MS = SMIN + 10 * config.probeIntervalMs;
const CONVERGE_BOUND_MS = Math.max(S, 3 * H) + 10_000;
const MERGE_BOUND_MS = Math.max(3 * H, S + 2 * config.probeIntervalMs) + 10_000;
const WARMUP_MS = 5000;

/** Shrinking reruns whole simulations; cap it so a failure is reported, not timed out. */
const SHRINK_LIMIT_MS = Number(process.env.PROPS_TIME_LIMIT_MS ?? 60_000);

function params(): fc.Parameters<unknown> {
  return {
    numRuns: RUNS,
    seed: SEED,
    interruptAfterTimeLimit: SHRINK_LIMIT_MS,
    // A run cut short by the time limit proved nothing: it fails.
    markInterruptAsFailure: true,
    ...(PATH ? { path: PATH, endOnFailure: true } : {}),
  };
}

t.comment(`props: ${N} nodes, ${RUNS} runs per property, PROPS_SEED=${SEED}`);
t.comment(
  `bounds: crash→dead ${CRASH_BOUND_MS} ms, converge ${CONVERGE_BOUND_MS} ms, partition merge ${MERGE_BOUND_MS} ms`,
);

// ------------------------------------------------------------------ generators

const nodeArb = fc.integer({ min: 0, max: N - 1 }).map((i) => NAMES[i]);

/** Any split of the nodes into up to three sides; shrinks towards "no partition". */
const groupsArb = (maxGroups: number) =>
  fc.array(fc.integer({ min: 0, max: maxGroups - 1 }), { minLength: N, maxLength: N }).map((sides) => {
    const groups: string[][] = Array.from({ length: maxGroups }, () => []);
    sides.forEach((g, i) => groups[g].push(NAMES[i]));
    return groups.filter((g) => g.length > 0);
  });

const FAULT_WINDOW_MS = 60_000;

const faultArb = (window: number): fc.Arbitrary<Fault> => {
  const at = fc.integer({ min: 0, max: window });
  return fc.oneof(
    fc.record({ at, kind: fc.constant('crash' as const), node: nodeArb }),
    fc.record({ at, kind: fc.constant('restart' as const), node: nodeArb, newAddress: fc.boolean() }),
    fc.record({ at, kind: fc.constant('pause' as const), node: nodeArb, ms: fc.integer({ min: 100, max: 5000 }) }),
    fc.record({ at, kind: fc.constant('partition' as const), groups: groupsArb(3) }),
    fc.record({ at, kind: fc.constant('heal' as const) }),
    fc.record({ at, kind: fc.constant('loss' as const), p: fc.double({ min: 0, max: 0.3, noNaN: true }) }),
    fc.record({ at, kind: fc.constant('leave' as const), node: nodeArb }),
  );
};

const scheduleArb = (window: number, maxFaults: number) =>
  fc.array(faultArb(window), { maxLength: maxFaults }).map((fs) => [...fs].sort((a, b) => a.at - b.at));

function report(seed: number, faults: readonly Fault[], detail: string): string {
  return `cluster seed ${seed}, ${N} nodes; schedule (after ${WARMUP_MS} ms warm-up):\n${describeFaults(faults) || '(none)'}\n${detail}`;
}

// ------------------------------------------------------------------ properties

t.test('after faults stop, every live node agrees on the live set within the bound', async (t) => {
  const meter = new PropertyMeter();
  let worst = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), scheduleArb(FAULT_WINDOW_MS, 8), (seed, faults) => {
      const c = new MembershipCluster({ nodes: N, seed, config, skewMs: skewFromSeed(seed) });
      meter.run(c);
      c.run(WARMUP_MS);
      scheduleFaults(c, faults);
      c.run(FAULT_WINDOW_MS);
      // Faults stop: links heal, loss ends; pauses still running end within 5 s.
      c.heal();
      c.setLoss(0);
      const start = c.now;
      const done = c.runUntilTrue(() => c.converged(), CONVERGE_BOUND_MS + 5000, 250);
      if (done === undefined) {
        throw new Error(
          report(
            seed,
            faults,
            `not converged after ${CONVERGE_BOUND_MS + 5000} ms: ${JSON.stringify(c.disagreements().slice(0, 5))}`,
          ),
        );
      }
      worst = Math.max(worst, done - start);
      return true;
    }),
    params(),
  );
  t.comment(`worst time to agreement: ${worst} ms (bound ${CONVERGE_BOUND_MS + 5000} ms incl. 5 s of trailing pause)`);
  t.pass('converged in every run');
  meter.report(t, 'membership: live set agreed after faults', N, SEED);
});

t.test('a crashed node is dead at every live node within the bound', async (t) => {
  const meter = new PropertyMeter();
  let worst = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      nodeArb,
      fc.double({ min: 0, max: 0.1, noNaN: true }),
      fc.integer({ min: 0, max: 10_000 }),
      (seed, victim, loss, delay) => {
        const c = new MembershipCluster({ nodes: N, seed, config, link: { loss } });
        meter.run(c);
        c.run(WARMUP_MS + delay);
        c.crash(victim);
        const start = c.now;
        const done = c.runUntilTrue(() => c.deadEverywhere(victim), CRASH_BOUND_MS, 100);
        if (done === undefined) {
          const holdouts = c
            .upNodes()
            .filter((o) => ['alive', 'suspect'].includes(c.core(o)?.member(victim)?.state ?? ''));
          throw new Error(
            `cluster seed ${seed}, loss ${loss}: ${victim} crashed at ${start} ms still live at ${holdouts.join(',')} after ${CRASH_BOUND_MS} ms`,
          );
        }
        worst = Math.max(worst, done - start);
        return true;
      },
    ),
    params(),
  );
  t.comment(`worst crash→dead everywhere: ${worst} ms (bound ${CRASH_BOUND_MS} ms)`);
  t.pass('every crash detected in time');
  meter.report(t, 'membership: crash dead everywhere in bound', N, SEED);
});

// A 3-node cluster cannot supply the suspicionMult - 2 = 2 independent confirmations that
// bring a suspicion down to its minimum (only one other member is left to confirm), so
// there it expects none (membership/core/swim.ts). Without that rule a crash waits for the
// unconfirmed maximum, S(3) = 24 s less what one confirmation takes off: dead after 12.4 s
// instead of 5.1 s (test/mutants/indirect-tiny-cluster.patch). Bound: Smin(3) + 4 P = 8 s
// (worst seen 6.0 s over 200 runs, seeds 1, 2, 18).
t.test('tiny cluster: a crashed node of 3 is dead at both others within Smin(3) + 4 probe intervals', async (t) => {
  const meter = new PropertyMeter();
  const n = 3;
  const names = ['node-0', 'node-1', 'node-2'];
  const bound = suspicionTimeout(config.suspicionMult, n, config.probeIntervalMs) + 4 * config.probeIntervalMs;
  let worst = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      fc.constantFrom(...names),
      fc.integer({ min: 0, max: 10_000 }),
      (seed, victim, delay) => {
        const c = new MembershipCluster({ nodes: n, seed, config });
        meter.run(c);
        c.run(WARMUP_MS + delay);
        c.crash(victim);
        const start = c.now;
        const done = c.runUntilTrue(() => c.deadEverywhere(victim), bound, 100);
        if (done === undefined)
          throw new Error(
            `cluster seed ${seed}: ${victim} of 3 crashed at ${start} ms is not dead at both others after ${bound} ms`,
          );
        worst = Math.max(worst, done - start);
        return true;
      },
    ),
    params(),
  );
  t.comment(`worst crash→dead in a 3-node cluster: ${worst} ms (bound ${bound} ms)`);
  t.pass('every crash of 3 detected in time');
  meter.report(t, 'membership: 3-node crash dead in bound', n, SEED);
});

t.test('Lifeguard: 5 % loss and one member paused 2 s at a time never kill a live node', async (t) => {
  const meter = new PropertyMeter();
  let suspicions = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      nodeArb,
      fc.array(fc.integer({ min: 2000, max: 10_000 }), { minLength: 5, maxLength: 20 }),
      (seed, sleeper, gaps) => {
        const c = new MembershipCluster({ nodes: N, seed, config, link: { loss: 0.05 } });
        meter.run(c);
        const falseDeaths: string[] = [];
        let armed = false;
        c.onEvent((e) => {
          if (e.type === 'dead' && e.subjectUp)
            falseDeaths.push(`${e.observer} declared ${e.member.name} dead at ${e.at} ms`);
          if (e.type === 'suspect') suspicions++;
          // Armed: the sleeper was suspected, so only Lifeguard and refutation kept it alive.
          if (e.type === 'suspect' && e.member.name === sleeper) armed = true;
        });
        c.run(WARMUP_MS);
        let at = c.now;
        const pauses: Fault[] = [];
        for (const gap of gaps) {
          at += gap;
          pauses.push({ at: at - c.now, kind: 'pause', node: sleeper, ms: 2000 });
          at += 2000;
        }
        scheduleFaults(c, pauses);
        c.runUntil(at + 20_000);
        if (armed) meter.armed();
        if (falseDeaths.length > 0) {
          throw new Error(report(seed, pauses, `false deaths with 5 % loss:\n${falseDeaths.slice(0, 5).join('\n')}`));
        }
        return true;
      },
    ),
    params(),
  );
  t.comment(`suspicions raised and refuted meanwhile: ${suspicions}`);
  t.pass('no false deaths');
  t.ok(
    meter.armedRate >= 0.5,
    `the sleeper was suspected in ${(meter.armedRate * 100).toFixed(0)} % of runs (at least 50 % wanted)`,
  );
  meter.report(t, 'membership: no false death (Lifeguard)', N, SEED, { armed: true });
});

t.test('a healed partition merges within the bound', async (t) => {
  const meter = new PropertyMeter();
  let worst = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      groupsArb(3).filter((g) => g.length >= 2),
      fc.integer({ min: 5000, max: 120_000 }),
      fc.double({ min: 0, max: 0.05, noNaN: true }),
      (seed, groups, duration, loss) => {
        const c = new MembershipCluster({ nodes: N, seed, config, link: { loss } });
        meter.run(c);
        c.run(WARMUP_MS);
        c.partition(groups);
        c.run(duration);
        c.heal();
        const start = c.now;
        const done = c.runUntilTrue(() => c.converged(), MERGE_BOUND_MS, 250);
        if (done === undefined) {
          const split = groups.map((g) => `[${g.join(',')}]`).join(' | ');
          throw new Error(
            `cluster seed ${seed}, loss ${loss}: partition ${split} for ${duration} ms not merged ${MERGE_BOUND_MS} ms after healing: ${JSON.stringify(c.disagreements().slice(0, 5))}`,
          );
        }
        worst = Math.max(worst, done - start);
        return true;
      },
    ),
    params(),
  );
  t.comment(`worst merge after healing: ${worst} ms (bound ${MERGE_BOUND_MS} ms)`);
  t.pass('every partition merged in time');
  meter.report(t, 'membership: healed partition merges', N, SEED);
});

// A node deaf while a leave goes out (its receive buffer overflowed during a stall) misses
// every copy. Its probe ring comes to the leaver, which has stopped, and it suspects it. The
// others hold it left and relay no claims about it, so before, the suspicion ran its course
// and the node held the leaver dead until a push/pull came by (membership/cluster.e2e.test.ts
// failed so in CI: n7 held the leaver dead for over 20 s). Now a holder of `left` answers a
// claim with the leave (membership/core/swim.ts, passOnLeave). Push/pull is off here, so that
// the answer is the only way the news can come.
// Bounds: a suspicion raised once the node hears again is answered within 2 P (a gossip round
// there and a reply back; worst seen under 1 ms); the ring visits every member once a cycle
// of N - 1 rounds, so the leaver is probed within two cycles, 2 (N - 1) P, and answered 2 P
// later (worst seen 40.1 s over 300 runs, seeds 1-3; the answer itself 157 ms).
const NO_PUSH_PULL = { ...config, pushPullIntervalMs: 0 };
const ANSWERED_BOUND_MS = 2 * config.probeIntervalMs;
const LEAVE_BOUND_MS = 2 * (N - 1) * config.probeIntervalMs + ANSWERED_BOUND_MS;

t.test('a graceful leave ends as left everywhere, even at a node deaf while it went out', async (t) => {
  const meter = new PropertyMeter();
  let worst = 0;
  let worstAnswer = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      fc.integer({ min: 0, max: N - 1 }),
      fc.integer({ min: 1, max: N - 1 }),
      fc.integer({ min: 1000, max: 3000 }),
      fc.double({ min: 0, max: 0.05, noNaN: true }),
      (seed, leaverAt, offset, deafMs, loss) => {
        const leaver = NAMES[leaverAt]!;
        const deaf = NAMES[(leaverAt + offset) % N]!;
        const c = new MembershipCluster({ nodes: N, seed, config: NO_PUSH_PULL, link: { loss } });
        meter.run(c);
        // While deaf it suspects whomever it probes, and the answers are lost: count the
        // suspicions it raises once it hears again.
        const hearsAt = WARMUP_MS + deafMs;
        let suspectedAt: number | undefined;
        const unanswered: string[] = [];
        c.onEvent((e) => {
          if (e.observer !== deaf || e.member.name !== leaver) return;
          if (e.type === 'suspect' && e.at >= hearsAt) suspectedAt ??= e.at;
          else if (e.type === 'dead' && suspectedAt !== undefined)
            unanswered.push(`${deaf} declared ${leaver} dead at ${e.at} ms`);
          else if (e.type === 'leave' && suspectedAt !== undefined) {
            meter.armed();
            worstAnswer = Math.max(worstAnswer, e.at - suspectedAt);
            if (e.at - suspectedAt > ANSWERED_BOUND_MS)
              unanswered.push(`${deaf} suspected ${leaver} at ${suspectedAt} ms, left only at ${e.at} ms`);
          }
        });
        c.run(WARMUP_MS);
        for (const other of NAMES) if (other !== deaf) c.network.block(other, deaf);
        c.leave(leaver);
        c.runUntil(hearsAt);
        c.heal();
        const start = c.now;
        const leftEverywhere = () => c.upNodes().every((o) => c.core(o)?.member(leaver)?.state === 'left');
        const done = c.runUntilTrue(leftEverywhere, LEAVE_BOUND_MS, 100);
        const where = `cluster seed ${seed}, loss ${loss}: ${leaver} left while ${deaf} was deaf for ${deafMs} ms`;
        if (unanswered.length > 0) throw new Error(`${where}: ${unanswered.join('; ')}`);
        if (done === undefined) {
          const views = c.upNodes().map((o) => `${o}=${c.core(o)?.member(leaver)?.state ?? 'unknown'}`);
          throw new Error(
            `${where}; ${LEAVE_BOUND_MS} ms later: ${views.filter((v) => !v.endsWith('=left')).join(' ')}`,
          );
        }
        worst = Math.max(worst, done - start);
        return true;
      },
    ),
    params(),
  );
  t.comment(`worst time to left everywhere after the deaf node hears again: ${worst} ms (bound ${LEAVE_BOUND_MS} ms)`);
  t.comment(`worst time from its suspicion of the leaver to left: ${worstAnswer} ms (bound ${ANSWERED_BOUND_MS} ms)`);
  t.pass('every leave ended as left everywhere, every suspicion of a leaver answered');
  t.ok(
    meter.armedRate >= 0.5,
    `the deaf node suspected the leaver before it learnt of the leave in ${(meter.armedRate * 100).toFixed(0)} % of runs (at least 50 % wanted)`,
  );
  meter.report(t, 'membership: a missed leave still ends as left', N, SEED, { armed: true });
});

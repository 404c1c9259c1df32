// The relays of a failed probe that nacked are independent witnesses (issue 17): each
// reached us and pinged the target itself without an answer. They confirm our own
// suspicion, so with indirectChecks >= k it runs the minimum timeout Smin(n) from the
// start, instead of the maximum (suspicionMaxTimeoutMult * Smin) until other probers'
// suspicions arrive, which on a loaded host, with Lifeguard stretching their probe
// intervals, came only after Smin had passed. Smin stays the floor: the suspect always
// has that long to refute.
import t from 'tap';
import { makeConfig } from './config.js';
import { suspicionTimeout } from './math.js';
import { events, makeCore, runTimers, withPeers } from './test-harness.js';

const config = makeConfig('lan');
const PEERS = ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'x'];
const SMIN = suspicionTimeout(config.suspicionMult, PEERS.length + 1, config.probeIntervalMs);

/** When the core first suspected a member and when it declared that one dead; the members in `silent` never answer. */
function detect(silent: string[]): { suspectAt: number; deadAt: number | undefined } {
  const core = makeCore('self');
  withPeers(core, PEERS);
  let victim: string | undefined;
  let suspectAt: number | undefined;
  let deadAt: number | undefined;
  for (let until = 1000; until <= 120_000 && deadAt === undefined; until += 100) {
    for (const e of events(runTimers(core, until, new Set(silent)))) {
      if (e.type === 'suspect' && victim === undefined) {
        victim = e.member.name;
        suspectAt = until;
      }
      if (e.type === 'dead' && e.member.name === victim) deadAt ??= until;
    }
  }
  if (suspectAt === undefined) throw new Error('nobody was suspected');
  return { suspectAt, deadAt };
}

t.test('a failed probe whose relays all nacked runs the minimum suspicion timeout', async (t) => {
  const { suspectAt, deadAt } = detect(['x']);
  t.ok(deadAt !== undefined, 'declared dead');
  const took = deadAt! - suspectAt;
  t.ok(took >= SMIN - 100, `not before Smin(11) = ${SMIN} ms (took ${took} ms)`);
  t.ok(took <= SMIN + config.probeIntervalMs, `within Smin + P (took ${took} ms; the maximum is ${6 * SMIN} ms)`);
});

t.test('without nacks (relays silent too) no witness confirms: the timeout stays long', async (t) => {
  // Every peer silent: the relays nack nothing, so nothing confirms the first suspicion.
  const { suspectAt, deadAt } = detect(PEERS);
  const took = (deadAt ?? Infinity) - suspectAt;
  t.ok(took > SMIN + config.probeIntervalMs, `took ${took} ms, more than Smin + P`);
});

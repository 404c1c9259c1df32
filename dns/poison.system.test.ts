// Blind cache poisoning against the real forwarder (issue 12, item 5), in network namespaces:
// a slow upstream (0.8 s), and an attacker on a third host flooding forged answers with the
// upstream's address and port from a raw socket. The attacker is even told each query's
// source port (a side channel such as SAD DNS), so the query id and 0x20 must hold alone.
// Each round asks for a fresh name, so every round is a new chance. The attack itself is
// bench/hostile/dns.ts's (the bench runs it with >= 100,000 forged answers).
import t from 'tap';
import { skipUnless } from '../test/helpers/system.js';
import { poisonAttack } from '../bench/hostile/dns.js';

t.test(
  'forged answers to the known source port never reach the cache',
  { skip: skipUnless({ root: true, commands: ['ip', 'python3'] }) },
  async (t) => {
    const r = await poisonAttack(t, { rounds: 5, spoofsPerRound: 40_000, delayMs: 800, stopAtFirst: true, tag: 'pt' });
    t.comment(
      `${r.spoofsSent} forged answers over ${r.rounds} rounds in ${r.seconds.toFixed(1)} s; first poisoned round: ${r.firstPoisonedRound ?? 'none'}`,
    );
    t.equal(r.poisonedRounds, 0, 'no round was poisoned');
    t.equal(r.rounds, 5, 'every round ran');
    const spoofs = r.stats.upstreamSpoofs as Record<string, number> | undefined;
    t.ok(
      spoofs && spoofs.id + spoofs.case > 1000,
      `the forged answers reached the query's socket and were dropped as spoofs (${JSON.stringify(spoofs)})`,
    );
  },
);

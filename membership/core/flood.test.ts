// A new death is flooded at once (swim.ts floodDeaths): gossipNodes packets carrying the
// verdict leave in the same input, before any gossip tick, and count as transmissions.
import t from 'tap';
import { dead, endpointOf, events, isTo, makeCore, packets, runTimers, suspect, withPeers } from './test-harness.js';

const PEERS = ['b', 'c', 'd', 'e', 'f', 'g', 'h'];

function carriesDead(p: { msgs: readonly { t: string; node?: unknown }[] }, name: string): boolean {
  return p.msgs.some((m) => m.t === 'dead' && m.node === name);
}

t.test('a dead learnt from a peer goes out at once to gossipNodes other live members', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(5, endpointOf('c'), dead('b', 1, 'c'));
  const out = core.takeOutputs();
  t.same(
    events(out).map((e) => e.type),
    ['dead'],
  );
  const flood = packets(out).filter((p) => carriesDead(p, 'b'));
  t.equal(flood.length, core.config.gossipNodes, 'one packet per gossip node, without a tick');
  t.equal(new Set(flood.map((p) => `${p.to.addr}:${p.to.port}`)).size, flood.length, 'distinct targets');
  t.notOk(
    flood.some((p) => isTo(p, 'c') || isTo(p, 'b')),
    'not back to the sender, nor to the dead',
  );
  t.equal(flood[0].msgs[0].t, 'dead', 'the verdict leads the packet');

  // Already known: no second flood.
  core.receive(6, endpointOf('d'), dead('b', 1, 'd'));
  t.equal(packets(core.takeOutputs()).length, 0, 'a death we already hold is not flooded again');
});

t.test('a death we declare ourselves is flooded in the tick that declares it', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  const silent = new Set(['b']);
  let found = false;
  for (let until = 1000; !found && until < 60_000; until += 100) {
    const out = runTimers(core, until, silent);
    const ev = events(out).find((e) => e.type === 'dead' && e.member.name === 'b');
    if (!ev) continue;
    found = true;
    const at = ev.member.lastChange;
    const sameInstant = packets(out).filter((p) => carriesDead(p, 'b') && out.indexOf(p) > out.indexOf(ev));
    t.ok(sameInstant.length >= core.config.gossipNodes, `flooded with the declaration at ${at}`);
  }
  t.ok(found, 'b declared dead');
});

t.test('a leave is not flooded; the flood obeys the transmit limit', async (t) => {
  const core = makeCore();
  withPeers(core, PEERS);
  core.receive(5, endpointOf('b'), dead('b', 1, 'b'));
  t.equal(packets(core.takeOutputs()).length, 0, 'left: gossiped at the next tick only');

  // retransmitMult 1 with 8 members: the verdict may be sent once, so one packet carries it.
  const small = makeCore('self', { config: { retransmitMult: 1 } });
  withPeers(small, PEERS);
  small.receive(5, endpointOf('c'), suspect('d', 1, 'c'));
  small.takeOutputs();
  small.receive(6, endpointOf('c'), dead('e', 1, 'c'));
  const flood = packets(small.takeOutputs());
  t.equal(flood.filter((p) => carriesDead(p, 'e')).length, 1, 'exactly the allowed number of copies');
  t.equal(small.peekBroadcast('e'), undefined, 'counted as sent: gone from the queue');
  t.ok(flood.every((p) => carriesDead(p, 'e') || !p.msgs.some((m) => m.t === 'dead')));
});

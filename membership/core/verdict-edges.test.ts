// Suspicion, death, alive and refutation at their edges, from the survivors of
// `npm run mutation -- membership/core:swim3` (issue 18): whom a stale accusation is answered
// to, what a leaving node still says, the tiny-cluster rule for suspicion timeouts, whom a
// death is flooded to, restarts at a new address, what an alive about ourselves makes us do,
// and what a push/pull tells about a signed member.
import t from 'tap';
import type { Alive } from '../messages.js';
import { aliveBytes, toyAuth, toyPki } from './member-auth.js';
import {
  addrOf,
  alive,
  dead,
  endpointOf,
  events,
  isTo,
  makeCore,
  messages,
  packets,
  runTimers,
  suspect,
  withPeers,
} from './test-harness.js';
import type { Output } from './outputs.js';

const PEERS = ['b', 'c', 'd', 'e'];
const enc = new TextEncoder();

/**
 * A core at `incarnation` whose own announcement has been gossiped enough times to leave the
 * queue, so what it sends about itself is only what it sends on purpose.
 */
function settled(incarnation: number) {
  const core = makeCore('self', { incarnation });
  withPeers(core, PEERS);
  runTimers(core, 30_000);
  return core;
}

/** The alives about `name` in the packets to `to`. */
function alivesTo(out: readonly Output[], to: string, name = 'self'): Alive[] {
  return packets(out)
    .filter((p) => isTo(p, to))
    .flatMap((p) => p.msgs)
    .filter((m): m is Alive => m.t === 'alive' && m.node.name === name);
}

t.test('a stale accusation about us is answered to its sender with our current alive', async (t) => {
  for (const stale of [suspect('self', 2, 'b'), dead('self', 2, 'b')]) {
    const core = settled(5);
    t.equal(core.peekBroadcast('self'), undefined, 'our announcement is no longer queued');
    core.receive(40_000, endpointOf('b'), stale);
    const sent = alivesTo(core.takeOutputs(), 'b');
    t.same(
      sent.map((a) => a.incarnation),
      [5],
      `${stale.t}: one alive at our incarnation`,
    );
    t.equal(core.localMember().incarnation, 5, 'no refutation needed');
  }
});

t.test('a stale accusation about another member is not answered', async (t) => {
  for (const stale of [suspect('c', 1, 'b'), dead('c', 1, 'b')]) {
    const core = makeCore('self');
    withPeers(core, PEERS);
    core.receive(1, endpointOf('c'), alive('c', 3));
    core.takeOutputs();
    core.receive(2, endpointOf('b'), stale);
    t.same(
      packets(core.takeOutputs()).filter((p) => isTo(p, 'b')),
      [],
      `${stale.t} of c at 1 while we know 3: nothing to b`,
    );
    t.equal(core.member('c')?.state, 'alive');
  }
});

t.test('the correction shares the datagram with other replies to the sender', async (t) => {
  const core = settled(5);
  core.receive(40_000, endpointOf('b'), [
    { t: 'ping', seq: 9, target: 'self', source: addrOf('b') },
    suspect('self', 2, 'b'),
    dead('self', 3, 'b'),
  ]);
  const out = core.takeOutputs();
  const toB = packets(out)
    .filter((p) => isTo(p, 'b'))
    .flatMap((p) => p.msgs);
  t.ok(
    toB.some((m) => m.t === 'ack' && m.seq === 9),
    'the ack',
  );
  t.equal(alivesTo(out, 'b').length, 1, 'one alive for two stale accusations, beside the ack');
});

t.test('a node that left corrects nobody and refutes nothing', async (t) => {
  const core = makeCore('self', { incarnation: 5 });
  withPeers(core, PEERS);
  core.leave(1);
  core.takeOutputs();
  core.receive(2, endpointOf('b'), suspect('self', 2, 'b'));
  core.receive(2, endpointOf('c'), suspect('self', 5, 'c'));
  core.receive(2, endpointOf('d'), dead('self', 5, 'd'));
  const out = core.takeOutputs();
  t.same(
    messages(out).filter((m) => m.t === 'alive' && m.node.name === 'self'),
    [],
    'no alive about us',
  );
  t.equal(core.localMember().incarnation, 5);
});

t.test('a suspicion does not bring back a member we hold dead', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  core.receive(1, endpointOf('c'), dead('b', 1, 'c'));
  core.takeOutputs();
  core.receive(2, endpointOf('d'), suspect('b', 1, 'd'));
  const out = core.takeOutputs();
  t.equal(core.member('b')?.state, 'dead');
  t.same(events(out), []);
  t.same(
    messages(out).filter((m) => m.t === 'suspect'),
    [],
    'nothing gossiped',
  );
});

t.test('a death of a member we never knew is ignored, not counted as a bad message', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  core.receive(1, endpointOf('b'), dead('zed', 1, 'b'));
  t.equal(core.member('zed'), undefined);
  t.equal(core.stats().rejectedMessages, 0);
  t.same(events(core.takeOutputs()), []);
});

/** When `b`, suspected by `c` at time 0 and silent since, is declared dead by a node knowing `peers`. */
function deathTime(peers: string[]): number {
  const core = makeCore('self');
  withPeers(core, peers);
  core.receive(0, endpointOf('c'), suspect('b', 1, 'c'));
  const out = runTimers(core, 60_000, new Set(['b']));
  const at = events(out).find((e) => e.type === 'dead' && e.member.name === 'b');
  return at?.member.lastChange ?? Infinity;
}

t.test(
  'tiny clusters expect no confirmations: the suspicion runs its minimum, larger ones wait for them',
  async (t) => {
    // lan: suspicionMult 4, so k = 2 confirmations are expected once n - 2 >= 2, that is
    // from 4 live members; below, k = 0 and the timeout is the minimum, 4 s (plus at most the
    // 2 s grace). From 4 members, our own failed probe is the only confirmation (c's is the
    // first accusation), so the timeout stays well above the minimum.
    const three = deathTime(['b', 'c']);
    const four = deathTime(['b', 'c', 'd']);
    t.ok(three >= 4000 && three <= 7000, `3 members: dead at ${three} ms`);
    t.ok(four > 9000 && four < 60_000, `4 members: dead at ${four} ms`);
  },
);

t.test('a death is flooded to others than the member that told us', async (t) => {
  // lan: gossipNodes 3. After d's death three others are alive: b (who told us), c and e.
  const core = makeCore('self');
  withPeers(core, PEERS);
  core.receive(1, endpointOf('b'), dead('d', 1, 'b'));
  const flooded = packets(core.takeOutputs()).filter((p) => p.msgs.some((m) => m.t === 'dead' && m.node === 'd'));
  t.same(flooded.map((p) => ['b', 'c', 'e'].find((n) => isTo(p, n))).sort(), ['c', 'e']);
});

t.test('a restart at a new address with the same port is a move', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  const moved = { ...addrOf('b'), addr: '10.200.0.1' };
  core.receive(1, moved, alive('b', 2, new Uint8Array(0), moved));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['update'],
  );
  t.equal(core.member('b')?.addr, '10.200.0.1');
  const otherPort = { ...addrOf('c'), port: 7000 };
  core.receive(2, otherPort, alive('c', 2, new Uint8Array(0), otherPort));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['update'],
    'the same address with another port too',
  );
  t.equal(core.member('c')?.port, 7000);
});

t.test('a member that left may come back from another address at the same incarnation', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  core.receive(1, endpointOf('b'), dead('b', 1, 'b'));
  t.equal(core.member('b')?.state, 'left');
  core.takeOutputs();
  const moved = { ...addrOf('b'), addr: '10.200.0.1' };
  core.receive(2, moved, alive('b', 1, new Uint8Array(0), moved));
  t.same(
    events(core.takeOutputs()).map((e) => e.type),
    ['join'],
  );
  t.same([core.member('b')?.state, core.member('b')?.addr], ['alive', '10.200.0.1']);
  t.equal(core.stats().addressConflicts, 0);
});

t.test('a node without identity takes a signed alive from a node with it (a cluster migrating)', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  const a = { ...alive('f', 1), sig: new Uint8Array(64).fill(7), cert: enc.encode('f') };
  core.receive(1, endpointOf('f'), a);
  t.equal(core.member('f')?.state, 'alive');
  t.equal(core.stats().rejectedMessages, 0);
});

t.test('an alive about ourselves: outbid only a different picture at our incarnation or above', async (t) => {
  const elsewhere = { ...addrOf('self'), addr: '10.9.9.9' };
  const otherPort = { ...addrOf('self'), port: 7000 };
  const cases: [string, Alive, number][] = [
    ['an older life elsewhere', alive('self', 3, new Uint8Array(0), elsewhere), 5],
    ['our own picture', alive('self', 5), 5],
    ['our incarnation at another address, same port', alive('self', 5, new Uint8Array(0), elsewhere), 6],
    ['our incarnation at another port', alive('self', 5, new Uint8Array(0), otherPort), 6],
    ['our incarnation with other metadata', alive('self', 5, new Uint8Array([1])), 6],
    ['a higher incarnation, same picture otherwise', alive('self', 7), 8],
  ];
  for (const [what, a, want] of cases) {
    const core = makeCore('self', { incarnation: 5 });
    withPeers(core, PEERS);
    core.receive(1, endpointOf('b'), a);
    t.equal(core.localMember().incarnation, want, what);
  }
});

t.test('with identity on, a forged alive about ourselves does not make us outbid it', async (t) => {
  const pki = toyPki(['self', 'b', 'mallory']);
  const core = makeCore('self', { auth: toyAuth(pki, 'self'), incarnation: 5 });
  const forged = alive('self', 9, new Uint8Array(0), { ...addrOf('self'), addr: '10.6.6.6' });
  core.receive(1, endpointOf('mallory'), {
    ...forged,
    sig: toyAuth(pki, 'mallory').sign('alive', aliveBytes(forged)),
    cert: enc.encode('mallory'),
  });
  t.equal(core.localMember().incarnation, 5);
});

t.test('a refutation of an accusation that names us as the accuser is not sent to ourselves', async (t) => {
  const core = makeCore('self');
  withPeers(core, PEERS);
  const inc = core.localMember().incarnation;
  core.receive(1, endpointOf('b'), suspect('self', inc, 'self'));
  const out = core.takeOutputs();
  t.equal(core.localMember().incarnation, inc + 1, 'refuted');
  t.same(
    packets(out).filter((p) => isTo(p, 'self')),
    [],
  );
});

t.test('push/pull passes on the signature of a signed member, and nothing for an unsigned one', async (t) => {
  const pki = toyPki(['self', 'b', 'c', 'e', 'f']);
  pki.unsigned.accept = true;
  const core = makeCore('self', { auth: toyAuth(pki, 'self') });
  const b = alive('b', 1);
  const sig = toyAuth(pki, 'b').sign('alive', aliveBytes(b));
  core.receive(1, endpointOf('b'), { ...b, sig, cert: enc.encode('b') });
  core.receive(1, endpointOf('f'), alive('f', 1));
  t.equal(core.member('f')?.state, 'alive', 'f, unsigned, in the migration window');
  // A signature with no certificate to check it against is no proof either.
  core.receive(1, endpointOf('e'), { ...alive('e', 1), sig: new Uint8Array(64).fill(1) });
  t.equal(core.member('e')?.state, 'alive', 'e, a signature without a certificate, in the window');
  const state = core.receiveStream(2, endpointOf('c'), { t: 'push-pull', join: false, states: [] });
  const entryOf = (n: string) => state?.states.find((s) => s.node.name === n);
  t.same(entryOf('b')?.sig, sig, "b's signature");
  t.same(entryOf('b')?.cert, enc.encode('b'), "b's certificate (its reference)");
  t.equal(entryOf('f')?.sig, undefined, 'no signature for f');
  t.equal(entryOf('f')?.cert, undefined, 'no certificate for f');
  t.equal(entryOf('e')?.sig, undefined, 'no signature for e');
});

t.test('a packet from the suspect counts as heard only after the suspicion began', async (t) => {
  // b stops answering; our own probe fails at `start` (first-hand: no grace period). A packet
  // from b in the same millisecond came before the failure, so b is declared at once; one
  // a millisecond later shows b runs, and it gets the grace probe (two probe intervals).
  const silent = new Set(['b']);
  const run = (packetAt?: number) => {
    const core = makeCore('self');
    withPeers(core, PEERS);
    const out = runTimers(core, packetAt === undefined ? 60_000 : packetAt - 1, silent);
    if (packetAt !== undefined) {
      core.receive(packetAt, endpointOf('b'), { t: 'user', data: new Uint8Array([1]) });
      out.push(...core.takeOutputs(), ...runTimers(core, 60_000, silent));
    }
    const at = (type: string) => events(out).find((e) => e.type === type && e.member.name === 'b')?.member.lastChange;
    return { suspect: at('suspect'), dead: at('dead') };
  };
  const plain = run();
  const start = plain.suspect!;
  t.ok(start > 0 && plain.dead! > start, `suspect at ${start}, dead at ${plain.dead}`);
  t.equal(run(start).dead, plain.dead, 'a packet at the same millisecond: no grace');
  t.ok(run(start + 1).dead! >= plain.dead! + 2000, 'a packet a millisecond later: the grace probe first');
});

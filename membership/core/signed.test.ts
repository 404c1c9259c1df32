// Signed membership (issue 13, step 3) at the core, with the deterministic stand-in for
// certificates (member-auth.ts toyAuth): the same rules as with Ed25519, none of its cost.
// `mallory` is a member holding the cluster key and a certificate of its own.
import t from 'tap';
import type { Alive, Dead, PushNodeState, PushPull } from '../messages.js';
import { aliveBytes, leaveBytes, toyAuth, toyPki, type ToyPki } from './member-auth.js';
import {
  addrOf,
  alive,
  dead,
  endpointOf,
  events,
  makeCore,
  messages,
  runTimers,
  streams,
  suspect,
} from './test-harness.js';

const NAMES = ['self', 'b', 'c', 'mallory'];
const enc = new TextEncoder();

function setup(pki: ToyPki = toyPki(NAMES)) {
  const auth = toyAuth(pki, 'self');
  const core = makeCore('self', { auth });
  return { pki, auth, core };
}

/** `name`'s alive signed by `signer` (by default the node itself). */
function signed(
  pki: ToyPki,
  name: string,
  incarnation: number,
  opts: { signer?: string; meta?: Uint8Array<ArrayBuffer>; address?: ReturnType<typeof addrOf> } = {},
): Alive {
  const a = alive(name, incarnation, opts.meta, opts.address ?? addrOf(name));
  const signer = opts.signer ?? name;
  return { ...a, sig: toyAuth(pki, signer).sign('alive', aliveBytes(a)), cert: enc.encode(signer) };
}

function signedLeave(pki: ToyPki, name: string, incarnation: number): Dead {
  return {
    ...dead(name, incarnation, name),
    sig: toyAuth(pki, name).sign('leave', leaveBytes(name, incarnation)),
    cert: enc.encode(name),
  };
}

function known(core: ReturnType<typeof makeCore>, pki: ToyPki, names: string[]): void {
  for (const n of names) core.receive(0, endpointOf(n), signed(pki, n, 1));
  core.takeOutputs();
}

t.test('only the node raises its incarnation: forged alives for others are refused and counted', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b', 'c', 'mallory']);
  const from = endpointOf('mallory');
  core.receive(1, from, alive('b', 5, new Uint8Array([6])));
  core.receive(1, from, signed(pki, 'b', 6, { signer: 'mallory' }));
  core.receive(1, from, { ...signed(pki, 'b', 7), meta: new Uint8Array([6]) });
  core.receive(1, from, { ...alive('b', 8), sig: new Uint8Array(64).fill(7), cert: enc.encode('b') });
  t.equal(core.member('b')?.incarnation, 1, 'b keeps the incarnation it signed');
  t.same([...core.member('b')!.meta], [], 'and its metadata');
  const r = core.stats().authRejects;
  t.same([r.unsigned, r.bad_cert, r.bad_signature], [1, 1, 2], 'each refusal counted by reason');
  t.same(
    messages(core.takeOutputs()).filter((m) => m.t === 'alive'),
    [],
    'nothing forged is gossiped on',
  );
  core.receive(2, endpointOf('c'), signed(pki, 'b', 9, { meta: new Uint8Array([1]) }));
  t.equal(core.member('b')?.incarnation, 9, "b's own alive is taken");
});

t.test('a refutation cannot be forged: a suspect stays suspect until its own alive', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b', 'c', 'mallory']);
  core.receive(1, endpointOf('c'), suspect('b', 1, 'c'));
  t.equal(core.member('b')?.state, 'suspect');
  core.receive(2, endpointOf('mallory'), alive('b', 2));
  core.receive(2, endpointOf('mallory'), signed(pki, 'b', 2, { signer: 'mallory' }));
  t.equal(core.member('b')?.state, 'suspect', 'forged refutations change nothing');
  core.receive(3, endpointOf('b'), signed(pki, 'b', 2));
  t.equal(core.member('b')?.state, 'alive', 'the real one clears the suspicion');
});

t.test('suspect and dead claims about an incarnation the node never signed are dropped and counted', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b', 'c', 'mallory']);
  const from = endpointOf('mallory');
  core.receive(1, from, suspect('b', 2, 'mallory'));
  core.receive(1, from, dead('b', 5, 'mallory'));
  t.equal(core.member('b')?.state, 'alive');
  t.equal(core.member('b')?.incarnation, 1);
  t.equal(core.stats().authRejects.unsigned_incarnation, 2);
  core.receive(2, endpointOf('c'), suspect('b', 1, 'c'));
  t.equal(core.member('b')?.state, 'suspect', 'a claim about the signed incarnation is heard as always');
});

t.test('a leave must be signed by the node that leaves', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b', 'c', 'mallory']);
  core.receive(1, endpointOf('mallory'), dead('b', 1, 'b'));
  core.receive(1, endpointOf('mallory'), { ...signedLeave(pki, 'mallory', 1), node: 'b', from: 'b' });
  t.equal(core.member('b')?.state, 'alive', 'forged leaves are refused');
  t.same([core.stats().authRejects.unsigned, core.stats().authRejects.bad_cert], [1, 1]);
  core.receive(2, endpointOf('b'), signedLeave(pki, 'b', 1));
  t.equal(core.member('b')?.state, 'left', 'the signed one is taken');
});

t.test('our own leave and alives are signed', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b']);
  core.leave(1);
  const d = messages(core.takeOutputs()).find((m) => m.t === 'dead');
  const check = toyAuth(pki, 'b');
  t.ok(
    d &&
      d.t === 'dead' &&
      d.sig &&
      d.cert &&
      check.verify('leave', 'self', leaveBytes('self', d.incarnation), d.sig, d.cert, 1) === undefined,
    'leave verifies',
  );
  const { core: other } = setup();
  const state = other.receiveStream(0, endpointOf('b'), { t: 'push-pull', join: true, states: [] });
  const me = state?.states.find((s) => s.node.name === 'self');
  t.ok(
    me?.sig && me.cert && check.verify('alive', 'self', aliveBytes(me), me.sig, me.cert, 0) === undefined,
    'push/pull entry verifies',
  );
});

t.test('push/pull cannot inject unsigned or forged state', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b', 'c', 'mallory']);
  const entry = (a: Alive, state: PushNodeState['state']): PushNodeState => ({
    node: a.node,
    incarnation: a.incarnation,
    state,
    meta: a.meta,
    ...(a.sig ? { sig: a.sig, cert: a.cert } : {}),
  });
  const forged: PushPull = {
    t: 'push-pull',
    join: false,
    states: [
      entry(alive('b', 4, new Uint8Array([6])), 'alive'),
      entry(alive('c', 4), 'dead'),
      entry(signed(pki, 'c', 5, { signer: 'mallory' }), 'suspect'),
      entry(alive('b', 1), 'left'),
      entry(alive('newcomer', 3), 'alive'),
    ],
  };
  core.receiveStream(1, endpointOf('mallory'), forged);
  t.same(
    ['b', 'c'].map((n) => [core.member(n)?.state, core.member(n)?.incarnation]),
    [
      ['alive', 1],
      ['alive', 1],
    ],
    'b and c unchanged',
  );
  t.equal(core.member('newcomer'), undefined, 'no unsigned stranger learnt');
  t.ok(
    core.stats().authRejects.unsigned >= 3 && core.stats().authRejects.bad_cert === 1,
    JSON.stringify(core.stats().authRejects),
  );
  // A signed entry of a newer life, as an honest peer relays it, is taken with its proof.
  core.receiveStream(2, endpointOf('c'), {
    t: 'push-pull',
    join: false,
    states: [entry(signed(pki, 'b', 3), 'suspect')],
  });
  t.same([core.member('b')?.state, core.member('b')?.incarnation], ['suspect', 3]);
});

t.test("replays of another node's old signed alive change nothing", async (t) => {
  const { pki, core } = setup();
  const old = signed(pki, 'b', 1, { address: { name: 'b', addr: '10.7.7.7', port: 7946 } });
  core.receive(0, endpointOf('b'), old);
  core.receive(1, endpointOf('b'), signed(pki, 'b', 2));
  core.receive(2, endpointOf('c'), dead('b', 2, 'c'));
  t.equal(core.member('b')?.state, 'dead');
  core.receive(3, endpointOf('mallory'), old);
  t.equal(core.member('b')?.state, 'dead', 'an old life at another address does not bring b back');
  core.receive(4, endpointOf('b'), signed(pki, 'b', 3));
  t.equal(core.member('b')?.state, 'alive', 'its refutation does');
});

t.test('verification is paid once per (node, incarnation)', async (t) => {
  const { pki, auth, core } = setup();
  const a = signed(pki, 'b', 1);
  for (let i = 0; i < 20; i++) core.receive(i, endpointOf(i % 2 ? 'c' : 'b'), a);
  t.equal(auth.verified, 1);
});

t.test('a revoked member is failed, stays failed, and its gossip is refused', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b', 'c', 'mallory']);
  pki.revoked.add('mallory');
  core.standingChanged(1);
  t.equal(core.member('mallory')?.state, 'dead');
  t.ok(events(core.takeOutputs()).some((e) => e.type === 'dead' && e.member.name === 'mallory'));
  core.receive(2, endpointOf('c'), signed(pki, 'mallory', 9));
  t.equal(core.member('mallory')?.state, 'dead', 'its later alives are refused');
  core.receive(3, endpointOf('mallory'), suspect('b', 1, 'mallory'));
  t.equal(core.member('b')?.state, 'alive', 'its gossip is refused');
  const r = core.stats().authRejects;
  t.same([r.revoked, r.refused_sender], [1, 1]);
  t.equal(
    core.receiveStream(4, endpointOf('mallory'), { t: 'push-pull', join: false, states: [] }),
    undefined,
    'and so are its streams',
  );
});

t.test('a member whose certificate expires is failed at its next probe', async (t) => {
  const { pki, core } = setup();
  known(core, pki, ['b', 'c']);
  pki.expiresAt.set('b', 5_000);
  runTimers(core, 8_000);
  t.equal(core.member('b')?.state, 'dead');
  t.equal(core.member('c')?.state, 'alive');
});

t.test('the migration window takes unsigned news only of nodes without a certificate', async (t) => {
  const { pki, core } = setup();
  pki.unsigned.accept = true;
  known(core, pki, ['b']);
  core.receive(1, endpointOf('old'), alive('old', 1));
  t.equal(core.member('old')?.state, 'alive', 'a node without a certificate is heard unsigned');
  core.receive(1, endpointOf('mallory'), alive('b', 5));
  t.equal(core.member('b')?.incarnation, 1, 'a node seen signed is not');
  core.receive(2, endpointOf('c'), suspect('old', 1, 'c'));
  t.equal(core.member('old')?.state, 'suspect');
  pki.unsigned.accept = false;
  core.receive(3, endpointOf('old'), alive('old', 2));
  t.equal(core.member('old')?.state, 'suspect', 'after the window, unsigned alives are refused');
});

t.test('without identity, membership is unsigned as before', async (t) => {
  const core = makeCore('self');
  core.receive(0, endpointOf('b'), alive('b', 1));
  core.receive(1, endpointOf('c'), alive('b', 5));
  t.equal(core.member('b')?.incarnation, 5);
  const a = messages(core.takeOutputs()).find((m) => m.t === 'alive' && m.node.name === 'self');
  t.ok(!a || (a.t === 'alive' && a.sig === undefined));
  void streams;
});

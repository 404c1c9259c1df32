// Membership push/pull with certificates by reference (issue 13): an entry names its
// member's certificate by its 16-byte reference, whole only for a peer that showed it lacks
// it (its own push listed that member without it, or not at all: a joining node). Real
// Ed25519 certificates through the wire codec; the figures are bytes per member.
import t from 'tap';
import { SwimCore } from './core/swim.js';
import { seededRng } from '../base/rng.js';
import { aliveBytes } from './core/member-auth.js';
import { decodeStream, encodeStream, encodedSize } from './codec.js';
import { CERT_REF_BYTES, SIG_BYTES, type Alive, type PushNodeState, type PushPull } from './messages.js';
import { SignedMembership } from './member-signer.js';
import { makePki, type TestPki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';
import type { Endpoint } from './core/outputs.js';

const skip = skipUnless({ commands: ['openssl'] });
const META = new Uint8Array(64).fill(0x61); // about what an agent publishes: version, store port, a few tags
/** Per member: the signature, a reference, the meta and ~80 bytes of name, address, numbers and headers. */
const BOUND_PER_MEMBER = SIG_BYTES + CERT_REF_BYTES + META.byteLength + 80;

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);
const endpoint = (i: number): Endpoint => ({ addr: '127.0.0.1', port: 2000 + i });

// One CA and its certificates for every test here (openssl: about 0.1 s a certificate);
// every certificate is made before NOW, so all are valid at NOW.
const thePki = skip ? undefined : makePki([...names(100), 'hub', 'joiner', 'late', 'mallory']);
if (thePki) t.teardown(() => thePki.cleanup());
const NOW = Date.now();
const usePki = () => thePki!;

/** The signed alive `name` (at port) would announce: whole certificate, as a first alive. */
function signedAlive(auth: SignedMembership, name: string, port: number): Alive {
  const a: Alive = { t: 'alive', incarnation: 1, node: { name, addr: '127.0.0.1', port }, meta: META };
  a.sig = auth.sign('alive', aliveBytes(a));
  a.cert = auth.ownCert(true);
  return a;
}

function core(pki: TestPki, name: string, port: number, seed: number): { core: SwimCore; auth: SignedMembership } {
  const auth = new SignedMembership(pki.identity(name, NOW));
  const c = new SwimCore({ self: { name, addr: '127.0.0.1', port }, rng: seededRng(seed), now: NOW, auth, meta: META });
  return { core: c, auth };
}

/** Through the real codec, as the transport does. */
function wire(msg: PushPull): PushPull {
  const r = decodeStream(encodeStream([msg], {}), {});
  if (!r.ok) throw new Error(r.reason);
  return r.msgs[0] as PushPull;
}

function pushOf(c: SwimCore): PushPull {
  const out = c.takeOutputs().find((o) => o.kind === 'stream' && o.msg.t === 'push-pull');
  if (!out || out.kind !== 'stream') throw new Error('no push-pull sent');
  return out.msg as PushPull;
}

/** A hub that learnt `n` members from their signed alives, and a node that joins through it. */
function hubAndJoiner(pki: TestPki, n: number) {
  const hub = core(pki, 'hub', 1000, 1);
  for (const [i, name] of names(n).entries()) {
    const auth = new SignedMembership(pki.identity(name, NOW));
    hub.core.receive(NOW, endpoint(i), [signedAlive(auth, name, endpoint(i).port)]);
  }
  const b = core(pki, 'joiner', 1001, 2);
  return { hub, b };
}

const perMember = (msg: PushPull) => encodedSize(msg) / msg.states.length;

for (const n of [30, 100]) {
  t.test(`push/pull at ${n} members: certificates by reference once known`, { skip }, async (t) => {
    const pki = usePki();
    const { hub, b } = hubAndJoiner(pki, n);
    const hubAt = { addr: '127.0.0.1', port: 1000 };

    // Joining: b knows no certificate, so the hub's reply carries them whole and b takes every member.
    b.core.join(NOW, [hubAt]);
    const joinReply = wire(hub.core.receiveStream(NOW, { addr: '127.0.0.1', port: 1001 }, wire(pushOf(b.core)))!);
    b.core.receiveStreamReply(NOW, hubAt, joinReply);
    t.equal(b.core.members().filter((m) => m.state === 'alive').length, n + 2, 'the joiner took every member');
    t.equal(b.core.stats().authRejects.unknown_cert, 0);

    // Steady state: both know every certificate; entries name them by reference.
    b.core.join(NOW + 1, [hubAt]);
    const push = wire(pushOf(b.core));
    const reply = wire(hub.core.receiveStream(NOW + 1, { addr: '127.0.0.1', port: 1001 }, push)!);
    b.core.receiveStreamReply(NOW + 1, hubAt, reply);
    t.comment(
      `${n} members: join reply ${perMember(joinReply).toFixed(0)} B/member; steady push ${perMember(push).toFixed(0)}, reply ${perMember(reply).toFixed(0)} B/member (bound ${BOUND_PER_MEMBER})`,
    );
    t.ok(perMember(push) <= BOUND_PER_MEMBER, `push ${perMember(push).toFixed(0)} B/member`);
    t.ok(perMember(reply) <= BOUND_PER_MEMBER, `reply ${perMember(reply).toFixed(0)} B/member`);
    t.equal(b.core.stats().authRejects.unknown_cert, 0, 'nothing refused: the references were known');
    t.equal(hub.core.stats().authRejects.unknown_cert, 0);
  });
}

t.test('a peer that lacks one certificate gets it whole in the reply', { skip }, async (t) => {
  const pki = usePki();
  const { hub, b } = hubAndJoiner(pki, 5);
  const hubAt = { addr: '127.0.0.1', port: 1000 };
  b.core.join(NOW, [hubAt]);
  b.core.receiveStreamReply(NOW, hubAt, wire(hub.core.receiveStream(NOW, endpoint(99), wire(pushOf(b.core)))!));
  // 'late' joins at the hub only; b never saw its announcement.
  const late = new SignedMembership(pki.identity('late', NOW));
  hub.core.receive(NOW + 1, endpoint(50), [signedAlive(late, 'late', endpoint(50).port)]);
  b.core.join(NOW + 2, [hubAt]);
  const reply = wire(hub.core.receiveStream(NOW + 2, endpoint(99), wire(pushOf(b.core)))!);
  const entry = (name: string) => reply.states.find((s) => s.node.name === name)!;
  t.ok(entry('late').cert!.byteLength > CERT_REF_BYTES, 'the certificate b lacks goes whole');
  t.equal(entry('node-1').cert!.byteLength, CERT_REF_BYTES, 'one b listed goes by reference');
  b.core.receiveStreamReply(NOW + 2, hubAt, reply);
  t.equal(b.core.member('late')?.state, 'alive');
});

/** A push/pull entry for `name`, signed by `signer` under certificate `cert`. */
function entry(signer: SignedMembership, name: string, port: number, cert: Uint8Array, inc = 5): PushNodeState {
  const s: PushNodeState = {
    node: { name, addr: '127.0.0.1', port },
    incarnation: inc,
    state: 'alive',
    meta: META,
  };
  s.sig = signer.sign('alive', aliveBytes(s));
  s.cert = cert;
  return s;
}

t.test(
  'hostile push/pull: foreign references, forged signatures, a flood of unknown references',
  { skip },
  async (t) => {
    const pki = usePki();
    const { hub } = hubAndJoiner(pki, 3);
    const mallory = new SignedMembership(pki.identity('mallory', NOW));
    const victimRef = new SignedMembership(pki.identity('node-1', NOW)).ownCert(false);
    const from = endpoint(77);
    const send = (states: PushNodeState[]) =>
      hub.core.receiveStream(NOW + 1, from, wire({ t: 'push-pull', join: false, states }));

    // node-1's news signed by mallory, naming node-1's known certificate: the signature does not verify.
    send([entry(mallory, 'node-1', endpoint(1).port, victimRef)]);
    t.equal(hub.core.stats().authRejects.bad_signature, 1);
    // node-2's news under node-1's reference: the reference resolves to another name's certificate.
    send([entry(mallory, 'node-2', endpoint(2).port, victimRef)]);
    t.equal(hub.core.stats().authRejects.bad_cert, 1);
    t.equal(hub.core.member('node-1')?.incarnation, 1, "node-1's state is unchanged");
    t.equal(hub.core.member('node-2')?.incarnation, 1);

    // 2,000 made-up members under made-up references: all refused and counted, nothing kept.
    const booked = hub.auth.knownCertificates;
    const flood: PushNodeState[] = [];
    for (let i = 0; i < 2_000; i++) {
      const ref = new Uint8Array(CERT_REF_BYTES);
      new DataView(ref.buffer).setUint32(0, i + 1);
      flood.push(entry(mallory, `ghost-${i}`, 3000 + (i % 60000), ref));
    }
    hub.core.takeOutputs();
    send(flood);
    t.equal(hub.core.stats().authRejects.unknown_cert, 2_000, 'every unknown reference refused and counted');
    t.equal(hub.core.members().filter((m) => m.name.startsWith('ghost-')).length, 0, 'no ghost is a member');
    t.equal(hub.auth.knownCertificates, booked, 'the certificate book did not grow');
    const pulls = hub.core.takeOutputs().filter((o) => o.kind === 'stream');
    t.ok(pulls.length <= 1, `at most one certificate pull for the whole flood (${pulls.length})`);
  },
);

// Signed membership with real certificates (issue 13, step 3): Ed25519 via node:crypto,
// certificates made by `weft tls`'s code, through the wire codec. Also the wire cost.
import t from 'tap';
import { SwimCore } from './core/swim.js';
import { seededRng } from '../base/rng.js';
import { aliveBytes } from './core/member-auth.js';
import { decodePacket, encodePacket, encodedSize } from './codec.js';
import { CERT_REF_BYTES, type Alive, type PacketMessage } from './messages.js';
import { SignedMembership } from './member-signer.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });

t.test('alives signed with a real certificate pass the codec and verify; forgeries do not', { skip }, async (t) => {
  // Every certificate is made before `now`: one made later would not be valid yet at `now`.
  const pki = makePki(['a', 'b', 'c', 'mallory']);
  t.teardown(() => pki.cleanup());
  const now = Date.now();
  const authOf = (n: string) => new SignedMembership(pki.identity(n, now));
  const [a, b, mallory] = ['a', 'b', 'mallory'].map(authOf) as [SignedMembership, SignedMembership, SignedMembership];
  const core = (n: string, auth: SignedMembership) =>
    new SwimCore({ self: { name: n, addr: '127.0.0.1', port: n === 'a' ? 1001 : 1002 }, rng: seededRng(1), now, auth });
  const ca = core('a', a);
  const cb = core('b', b);
  // b's announcement goes through the real codec to a.
  const announce = cb.peekBroadcast('b') as Alive;
  t.ok(
    announce.sig && announce.cert && announce.cert.byteLength > CERT_REF_BYTES,
    'the first alive carries the whole certificate',
  );
  const wire = (msgs: PacketMessage[]) => {
    const r = decodePacket(encodePacket(msgs, {}), {});
    if (!r.ok) throw new Error(r.reason);
    return r.msgs;
  };
  ca.receive(now, { addr: '127.0.0.1', port: 1002 }, wire([announce]));
  t.equal(ca.member('b')?.state, 'alive');
  // Later alives name the certificate by reference, which a now knows.
  cb.updateMeta(now + 1, new Uint8Array([1]));
  const update = cb.peekBroadcast('b') as Alive;
  t.equal(update.cert?.byteLength, CERT_REF_BYTES, 'a later alive carries the reference only');
  ca.receive(now + 1, { addr: '127.0.0.1', port: 1002 }, wire([update]));
  t.same([...ca.member('b')!.meta], [1]);
  // mallory signs b's news with its own key and certificate: refused.
  const forged: Alive = {
    t: 'alive',
    incarnation: update.incarnation + 5,
    node: update.node,
    meta: new Uint8Array([6]),
  };
  forged.sig = mallory.sign('alive', aliveBytes(forged));
  forged.cert = mallory.ownCert(true);
  ca.receive(now + 2, { addr: '127.0.0.1', port: 1003 }, wire([forged]));
  t.same([...ca.member('b')!.meta], [1], 'forgery refused');
  t.equal(ca.stats().authRejects.bad_cert, 1);
  // A reference a has never seen: refused as unknown, and a asks the relay by push/pull.
  const c = authOf('c');
  const unknown: Alive = {
    t: 'alive',
    incarnation: 7,
    node: { name: 'c', addr: '127.0.0.1', port: 1004 },
    meta: new Uint8Array(0),
  };
  unknown.sig = c.sign('alive', aliveBytes(unknown));
  unknown.cert = c.ownCert(false);
  ca.takeOutputs();
  ca.receive(now + 3, { addr: '127.0.0.1', port: 1002 }, wire([unknown]));
  t.equal(ca.stats().authRejects.unknown_cert, 1);
  t.ok(
    ca.takeOutputs().some((o) => o.kind === 'stream' && o.to.port === 1002 && o.msg.t === 'push-pull'),
    'asks the relay for its state',
  );
  t.equal(a.verifications, 2, "b's two alives, each checked once (the forgery fails on its certificate first)");

  // Revocation through the shared verifier: b is failed and stays so.
  a.verifier.revoke('b');
  ca.standingChanged(now + 4);
  t.equal(ca.member('b')?.state, 'dead');
});

t.test('wire size of an alive: unsigned, signed by reference, signed with the certificate', { skip }, async (t) => {
  const pki = makePki(['node-1']);
  t.teardown(() => pki.cleanup());
  const auth = new SignedMembership(pki.identity('node-1'));
  const base: Alive = {
    t: 'alive',
    incarnation: 1_800_000_000,
    node: { name: 'node-1', addr: '10.0.0.1', port: 7946 },
    meta: new Uint8Array(20),
  };
  const sig = auth.sign('alive', aliveBytes(base));
  const unsigned = encodedSize(base);
  const byRef = encodedSize({ ...base, sig, cert: auth.ownCert(false) });
  const full = encodedSize({ ...base, sig, cert: auth.ownCert(true) });
  t.comment(
    `alive bytes (20-byte meta): unsigned ${unsigned}, signed by reference ${byRef}, signed with certificate ${full}`,
  );
  t.ok(
    byRef - unsigned <= 64 + CERT_REF_BYTES + 6,
    'a signed alive by reference costs the signature, the reference and their headers',
  );
});

t.test(
  'a member whose real certificate expires is failed at its next probe, and its alives are refused',
  { skip },
  async (t) => {
    const pki = makePki();
    t.teardown(() => pki.cleanup());
    pki.node('short', 1); // valid one day
    // Made before `now`: a certificate made later may not be valid yet at it (whole seconds).
    pki.node('a');
    const now = Date.now();
    const notAfter = pki.identity('short', now).cert.notAfter;
    // Both nodes' clocks read 5 s before the certificate's end (the core's clock starts at 0).
    const offset = notAfter - 5_000;
    const a = new SignedMembership(pki.identity('a', now), { clockOffsetMs: offset });
    const short = new SignedMembership(pki.identity('short', now), { clockOffsetMs: offset });
    const cores = [
      new SwimCore({ self: { name: 'a', addr: '127.0.0.1', port: 1001 }, rng: seededRng(1), now: 0, auth: a }),
      new SwimCore({ self: { name: 'short', addr: '127.0.0.1', port: 1002 }, rng: seededRng(2), now: 0, auth: short }),
    ] as const;
    const [ca, cs] = cores;
    const byPort = (port: number) => cores.find((c) => c.localMember().port === port);
    const deliver = (c: SwimCore, o: ReturnType<SwimCore['takeOutputs']>[number], now: number) => {
      const to = o.kind === 'packet' || o.kind === 'stream' ? byPort(o.to.port) : undefined;
      const from = { addr: '127.0.0.1', port: c.localMember().port };
      if (o.kind === 'packet') to?.receive(now, from, o.msgs);
      if (o.kind === 'stream' && o.msg.t === 'push-pull') {
        const reply = to?.receiveStream(now, from, o.msg);
        if (reply) c.receiveStreamReply(now, o.to, reply);
      }
    };
    // A lossless wire between the two, in virtual time.
    const pump = (until: number) => {
      for (;;) {
        const next = Math.min(...cores.map((c) => c.nextDeadline()));
        for (const c of cores) for (const o of c.takeOutputs()) deliver(c, o, next);
        if (next > until) return;
        for (const c of cores) if (c.nextDeadline() <= next) c.tick(next);
      }
    };
    cs.join(0, [{ addr: '127.0.0.1', port: 1001 }]);
    pump(3_000);
    t.equal(ca.member('short')?.state, 'alive', 'alive while its certificate is valid');
    pump(12_000);
    t.equal(ca.member('short')?.state, 'dead', 'failed once its certificate expired, though it answers');
    cs.updateMeta(12_001, new Uint8Array([1]));
    pump(15_000);
    t.equal(ca.member('short')?.state, 'dead', 'its later alives are refused');
    t.ok(
      ca.stats().authRejects.expired + ca.stats().authRejects.refused_sender >= 1,
      JSON.stringify(ca.stats().authRejects),
    );
  },
);

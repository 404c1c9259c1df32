// Rolling upgrade with identity on (issue 13): a member that does not announce `certRefs`
// in its gossip metadata (an agent from before certificate references) is sent auth records
// in the self-contained form it reads (signature + whole certificate) and no certificates
// list, which its decoder refuses (a push of exactly 4 fields); newer members get references.
import t from 'tap';
import { unpack } from 'msgpackr';
import { LocalStore } from '../local-store.js';
import { AUTH_BYTES, SignedChanges } from '../change-auth.js';
import { StoreCore } from './core.js';
import { decode, type Message } from './wire.js';
import { selfContained } from './self-contained.js';
import { recordOwner } from '../../records/schema.js';
import { seededRng } from '../../base/rng.js';
import { makePki } from '../../test/helpers/identity.js';
import { skipUnless } from '../../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });
const NEW = { addr: '127.0.0.2', port: 7947 };
const OLD = { addr: '127.0.0.3', port: 7947 };

t.test(
  'an older member gets self-contained auth records and no certificates list; a newer one references',
  { skip },
  async (t) => {
    const pki = makePki(['a', 'new', 'old', 'reader']);
    t.teardown(() => pki.cleanup());
    const now = Date.now();
    const a = new LocalStore({
      name: 'a',
      clock: () => Date.now(),
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('a', now)),
    });
    t.teardown(() => a.close());
    const core = new StoreCore({ store: a, rng: seededRng(1), now: 0, config: { lazyPath: false } });
    core.setMembers(0, [
      { name: 'new', ...NEW },
      { name: 'old', ...OLD, selfContainedAuth: true },
    ]);
    core.takeOutputs(0);
    a.put('node/a', { addr: '10.0.0.1' });
    const out = core.takeOutputs(1);
    const to = (p: { addr: string }) => out.filter((o) => o.to.addr === p.addr).map((o) => o.bytes);
    t.ok(to(OLD).length > 0 && to(NEW).length > 0, 'both members were pushed to');

    // What the older agent's decoder demands: a push of exactly 4 fields, records holding the certificate.
    // A reader that knows no certificate at all takes them: they are self-contained.
    const reader = new LocalStore({
      name: 'reader',
      clock: () => Date.now(),
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('reader', now)),
    });
    t.teardown(() => reader.close());
    for (const bytes of to(OLD)) {
      const raw = unpack(bytes) as unknown[];
      t.equal(raw.length, 4, 'a push of 4 fields: no certificates list');
      const d = decode(bytes);
      if (!d.ok || d.msg.t !== 'push') throw new Error('not a push');
      for (const c of d.msg.changes) {
        t.ok(c.auth && c.auth.byteLength > AUTH_BYTES, `a self-contained record (${c.auth?.byteLength} bytes)`);
        t.not(reader.applyRemote(c.docId, c.epoch, [c.change], [c.auth]), 'invalid', 'taken with no certificate known');
      }
    }
    t.equal(reader.stats().admitRejects.unknown_cert, 0);
    for (const bytes of to(NEW)) {
      const d = decode(bytes);
      if (!d.ok || d.msg.t !== 'push') throw new Error('not a push');
      for (const c of d.msg.changes) t.equal(c.auth?.byteLength, AUTH_BYTES, 'by reference');
    }
  },
);

t.test('sync messages for an older member: each record expanded, the list dropped', async (t) => {
  const der = new Uint8Array(300).fill(7);
  const short = new Uint8Array(AUTH_BYTES).fill(1);
  const msg: Message = {
    t: 'sync-reply',
    session: 1,
    more: false,
    items: [{ docId: 'n/a', epoch: 1, msg: new Uint8Array([1]), auths: new Map([['ab'.repeat(32), short]]) }],
    certs: [der],
  };
  const old = selfContained(msg, () => der);
  if (old.t !== 'sync-reply') throw new Error('type changed');
  t.equal(old.certs, undefined);
  const rec = old.items[0]!.auths!.get('ab'.repeat(32))!;
  t.equal(rec.byteLength, 64 + der.byteLength);
  t.same([...rec.subarray(64)], [...der]);
  t.equal(msg.items[0]!.auths!.get('ab'.repeat(32)), short, 'the original message is untouched');
  // A record whose certificate is unknown here stays as it is (the receiver refuses it, as before).
  const kept = selfContained(msg, () => undefined);
  t.equal(kept.t === 'sync-reply' && kept.items[0]!.auths!.get('ab'.repeat(32)), short);
});

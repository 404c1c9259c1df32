// The store's admission rules (admission.ts) on one LocalStore: what a peer's changes may
// write, where, as whom, at which epoch. The cluster-level property is props/hostile-store.test.ts.
import t from 'tap';
import { LocalStore } from './local-store.js';
import { ReplicaDoc } from './replica-doc.js';
import { StoreValueError, DEFAULT_VALUE_LIMITS } from './json-value.js';
import { actorId, bucketOf, ownDocId, sharedDocId, SHARED_BUCKETS } from './names.js';
import { amInitSyncState } from './automerge.js';
import { recordOwner } from '../records/schema.js';

const NOW = 1_700_000_000_000;
const store = (name: string) => new LocalStore({ name, clock: () => NOW, keyOwner: recordOwner });

/** The first change of a document, by `actor`, holding `records`. */
function change(docId: string, epoch: number, actor: string, records: Record<string, unknown>): Uint8Array {
  const kind = docId.startsWith('n/')
    ? ({ kind: 'own', owner: docId.slice(2) } as const)
    : ({ kind: 'shared', bucket: Number(docId.slice(2)) } as const);
  const d = ReplicaDoc.create(docId, kind, epoch, actor, DEFAULT_VALUE_LIMITS);
  for (const [k, v] of Object.entries(records)) d.put(k, JSON.stringify(v));
  const c = d.commit(true)!.change;
  d.free();
  return c;
}

t.test('n/X takes only changes authored by X in that epoch, writing keys X may hold', async (t) => {
  const a = store('a');
  const e = NOW - 5;
  t.equal(
    a.applyRemote(ownDocId('b'), e, [change(ownDocId('b'), e, actorId('c', e), { 'node/b': { addr: '1.2.3.4' } })]),
    'invalid',
    'another actor',
  );
  t.equal(
    a.applyRemote(ownDocId('b'), e, [change(ownDocId('b'), e, actorId('b', e + 1), { 'node/b': { addr: '1.2.3.4' } })]),
    'invalid',
    "b's actor of another epoch",
  );
  t.equal(
    a.applyRemote(ownDocId('b'), e, [change(ownDocId('b'), e, actorId('b', e), { 'svc/web/c/1': {} })]),
    'invalid',
    'a key of c',
  );
  t.equal(
    a.applyRemote(ownDocId('b'), e, [change(ownDocId('b'), e, actorId('b', e), { 'kv/x': 1 })]),
    'invalid',
    'a shared key space',
  );
  t.same(a.stats().admitRejects, {
    undecodable: 0,
    foreign_actor: 2,
    foreign_key: 2,
    wrong_bucket: 0,
    not_a_record_op: 0,
    future_epoch: 0,
    unsigned: 0,
    bad_signature: 0,
    bad_cert: 0,
    wrong_signer: 0,
    revoked: 0,
    unknown_cert: 0,
  });
  t.same(a.keys('', { view: 'all' }), [], 'nothing was taken');
  t.equal(
    a.applyRemote(ownDocId('b'), e, [
      change(ownDocId('b'), e, actorId('b', e), { 'node/b': { addr: '1.2.3.4' }, 'svc/web/b/1': {}, other: 1 }),
    ]),
    'applied',
    "b's own change",
  );
  t.same(a.keys('', { view: 'all' }), ['node/b', 'other', 'svc/web/b/1']);
  a.close();
});

t.test('shared documents take only shared key spaces, each key in its bucket', async (t) => {
  const a = store('a');
  const s = (key: string, bucket = bucketOf(key)) =>
    a.applyRemote(sharedDocId(bucket), 0, [change(sharedDocId(bucket), 0, actorId('z', 1), { [key]: 1 })]);
  t.equal(s('node/b'), 'invalid', "node/ is the owner's");
  t.equal(s('svc/web/b/1'), 'invalid', "svc/ is the owner's");
  t.equal(s('overlay/b'), 'invalid', "overlay/ is the owner's");
  t.equal(s('svc/malformed'), 'invalid', 'a malformed owned key belongs nowhere');
  t.equal(s('kv/x', (bucketOf('kv/x') + 1) % SHARED_BUCKETS), 'invalid', 'a key outside its bucket');
  t.equal(s('kv/x'), 'applied');
  t.equal(s('vip/web:80/tcp'), 'applied');
  t.same(a.stats().admitRejects.foreign_key, 4);
  t.same(a.stats().admitRejects.wrong_bucket, 1);
  a.close();
});

t.test('local writes keep to the key spaces too', async (t) => {
  const a = store('a');
  t.throws(() => a.put('svc/web/b/1', {}), StoreValueError, "another node's endpoint");
  t.throws(() => a.put('node/a', {}, { shared: true }), StoreValueError, 'own record in the shared documents');
  t.throws(() => a.put('kv/x', 1), StoreValueError, 'shared key in the own document');
  t.equal(a.put('node/a', { addr: '1.2.3.4' }).changed, true);
  t.equal(a.put('kv/x', 1, { shared: true }).changed, true);
  a.close();
});

t.test('epochs beyond the clock plus the allowed skew are refused, and never move our own epoch', async (t) => {
  const a = store('a');
  const own = a.ownEpoch;
  for (const e of [2 ** 53 - 1, NOW + 365 * 86400_000, NOW + 3600_000 + 1]) {
    t.equal(
      a.applyRemote(ownDocId('b'), e, [change(ownDocId('b'), e, actorId('b', e), { 'node/b': {} })]),
      'invalid',
      `b at ${e}`,
    );
    t.equal(
      a.applyRemote(ownDocId('a'), e, [change(ownDocId('a'), e, actorId('a', e), { 'node/a': {} })]),
      'invalid',
      `a at ${e}`,
    );
  }
  t.equal(a.ownEpoch, own, 'our epoch did not move');
  t.equal(a.stats().admitRejects.future_epoch, 6);
  const near = NOW + 600_000;
  t.equal(
    a.applyRemote(ownDocId('a'), near, [change(ownDocId('a'), near, actorId('a', near), { 'node/a': {} })]),
    'stale',
    'within the skew: our document seen elsewhere',
  );
  t.ok(a.ownEpoch > near, 'we start an epoch above it, so ours replaces it everywhere');
  a.close();
});

t.test('a forgery of our own current epoch, met in a sync, starts a new epoch', async (t) => {
  const a = store('a');
  a.put('node/a', { addr: '1.2.3.4' });
  const e = a.ownEpoch;
  // A key holder wrote n/a at a's current epoch with a's actor.
  const forger = ReplicaDoc.create(
    ownDocId('a'),
    { kind: 'own', owner: 'a' },
    e,
    actorId('a', e),
    DEFAULT_VALUE_LIMITS,
  );
  forger.put('node/a', JSON.stringify({ addr: '6.6.6.6' }));
  forger.commit(true);
  const sa = amInitSyncState();
  const sf = amInitSyncState();
  for (let i = 0; i < 4 && a.ownEpoch === e; i++) {
    const m = a.generateSync(ownDocId('a'), e, sa);
    if (m) forger.receiveSync(sf, m);
    const f = forger.generateSync(sf);
    if (f) a.receiveSync(ownDocId('a'), e, sa, f);
  }
  t.ok(a.ownEpoch > e, 'a moved to a new epoch');
  t.same(a.get('node/a')?.value, { addr: '1.2.3.4' }, 'and kept its own record');
  forger.free();
  a.close();
});

t.test(
  "a sync session brings another node's document only if its changes pass (whole-document chunks too)",
  async (t) => {
    const a = store('a');
    const e = NOW - 5;
    const forger = ReplicaDoc.create(
      ownDocId('b'),
      { kind: 'own', owner: 'b' },
      e,
      actorId('c', e),
      DEFAULT_VALUE_LIMITS,
    );
    forger.put('node/b', JSON.stringify({ addr: '6.6.6.6' }));
    forger.commit(true);
    const sa = amInitSyncState();
    const sf = amInitSyncState();
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const m = a.generateSync(ownDocId('b'), e, sa);
      if (m) forger.receiveSync(sf, m);
      const f = forger.generateSync(sf);
      if (f) outcomes.push(a.receiveSync(ownDocId('b'), e, sa, f));
    }
    t.ok(outcomes.includes('invalid'), `refused (${outcomes.join(', ')})`);
    t.equal(a.get('node/b', { view: 'all' }), undefined, 'nothing of it is held');
    t.ok(a.stats().admitRejects.foreign_actor > 0);
    forger.free();
    a.close();
  },
);

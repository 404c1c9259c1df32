// A node signs bursts of its changes in batches only while every live member announces
// that it reads batch records (node-meta.ts BATCH_SIGS_META_KEY): an agent from before
// them (a rolling upgrade with identity on) could check none of them. Real membership on
// loopback: a member without the flag joins, then announces it.
import t from 'tap';
import { Membership } from '../membership/membership.js';
import { makeConfig } from '../membership/core/config.js';
import { StoreNode } from '../crdt-store/store-node.js';
import { AUTH_BYTES, SignedChanges } from '../crdt-store/change-auth.js';
import type { LocalChange } from '../crdt-store/local-store.js';
import { recordOwner } from '../records/schema.js';
import { BATCH_SIGS_META_KEY, encodeMeta, readsBatchSigs } from './node-meta.js';
import { makePki } from '../test/helpers/identity.js';
import { eventually } from '../test/helpers/eventually.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });
const config = makeConfig('local', { probeIntervalMs: 200, probeTimeoutMs: 100 });
const meta = (batch: boolean) => encodeMeta(new Map<string, unknown>(batch ? [[BATCH_SIGS_META_KEY, 1]] : []));

t.test(
  'bursts are signed alone while a member cannot read batch records, in batches once all can',
  { skip },
  async (t) => {
    const pki = makePki(['a', 'old']);
    t.teardown(() => pki.cleanup());
    const a = await Membership.start({ name: 'a', bindAddr: '127.0.0.1', bindPort: 0, config, meta: meta(true) });
    t.teardown(() => a.close());
    const store = await StoreNode.start({
      name: 'a',
      dataDir: undefined,
      bind: '127.0.0.1',
      port: 0,
      membership: a,
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('a')),
      readsBatchSigs: (m) => readsBatchSigs(m.meta),
    });
    t.teardown(() => store.stop());
    const old = await Membership.start({ name: 'old', bindAddr: '127.0.0.1', bindPort: 0, config, meta: meta(false) });
    t.teardown(() => old.close());
    await old.join([`${a.local.addr}:${a.local.port}`]);
    await eventually(
      'old is alive at a',
      () => a.members().some((m) => m.name === 'old' && m.state === 'alive'),
      10_000,
    );

    let seen: LocalChange[] = [];
    store.store.observe({ localChange: (c) => seen.push(c) });
    const burst = (): number[] => {
      seen = [];
      for (let i = 0; i < 8; i++) store.store.put('node/a', { n: i });
      return seen.map((c) => c.auth!.length);
    };
    t.same(burst(), Array(8).fill(AUTH_BYTES), 'an older member present: each change signed alone');

    old.updateMeta(meta(true));
    await eventually(
      'a sees the flag',
      () => a.members().some((m) => m.name === 'old' && readsBatchSigs(m.meta)),
      10_000,
    );
    await eventually('a burst in one batch', () => burst().every((n) => n > AUTH_BYTES), 10_000);
    t.pass('every member reads them: the burst is one batch');
  },
);

// Certificates by reference in the simulated store cluster (issue 13): a node that joins
// after a writer's certificate went round is never stuck with changes it cannot check.
// Its first change from that writer names an unknown certificate: it is refused and
// counted (unknown_cert), left unseen, and comes back with the certificate: through the
// lazy path's graft when repair is off, through a repair session when the lazy path is off.
import t from 'tap';
import { makeConfig } from '../membership/core/config.js';
import { SignedChanges } from '../crdt-store/change-auth.js';
import { recordOwner } from '../records/schema.js';
import { StoreCluster } from './sim/store-cluster.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const N = 4;
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
const LATE = 'late';

const paths = [
  { name: 'graft (repair off)', replication: { lazyPath: true, repairIntervalMs: 1e9 } },
  { name: 'repair (lazy path off)', replication: { lazyPath: false, repairIntervalMs: 500 } },
];

t.test(
  "a late joiner gets a writer's changes by reference, with the certificate fetched beside them",
  { skip: skipUnless({ commands: ['openssl'] }) },
  async (t) => {
    const pki = makePki([...NAMES, LATE]);
    t.teardown(() => pki.cleanup());
    const base = Date.now();
    const ids = new Map([...NAMES, LATE].map((n) => [n, pki.identity(n, base)]));
    for (const p of paths) {
      const c = new StoreCluster({
        nodes: N,
        seed: 7,
        config: makeConfig('lan'),
        keyOwner: recordOwner,
        replication: p.replication,
        auth: (name) => new SignedChanges(ids.get(name)!, { clockOffsetMs: base }),
      });
      c.run(3000);
      c.addNode(LATE, [NAMES[0]!]);
      const everyoneKnowsLate = c.runUntilTrue(() => c.upNodes().every((n) => c.core(n).stats().members === N), 20_000);
      t.ok(everyoneKnowsLate !== undefined, `${p.name}: the late node joined`);
      // The first write of a shared bucket: complete on its own, so only its certificate is missing.
      c.write(NAMES[0]!, 'kv/late-test', { v: 1 }, { shared: true });
      const got = c.runUntilTrue(() => c.store(LATE).get('kv/late-test') !== undefined, 20_000);
      t.ok(got !== undefined, `${p.name}: the late node holds the change`);
      t.ok(c.store(LATE).stats().admitRejects.unknown_cert >= 1, `${p.name}: it first refused it (unknown_cert)`);
      t.equal(c.store(LATE).stats().admitRejects.bad_cert, 0, `${p.name}: no certificate refused`);
    }
  },
);

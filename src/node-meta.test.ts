// The certRefs flag in gossip metadata (issue 13, rolling upgrade): a member without it runs an
// older weft and is sent self-contained auth records (crdt-store/replication/self-contained.ts).
import t from 'tap';
import { encodeMeta, readsCertRefs, CERT_REFS_META_KEY } from './node-meta.js';

t.test('only members announcing certRefs read certificate references', async (t) => {
  t.ok(
    readsCertRefs(
      encodeMeta(
        new Map<string, unknown>([
          ['version', '0.1.0'],
          [CERT_REFS_META_KEY, 1],
        ]),
      ),
    ),
  );
  t.notOk(readsCertRefs(encodeMeta(new Map<string, unknown>([['version', '0.1.0']]))), 'an older agent: no flag');
  t.notOk(readsCertRefs(encodeMeta(new Map<string, unknown>([[CERT_REFS_META_KEY, true]]))), 'only the value 1');
  t.notOk(readsCertRefs(undefined));
  t.notOk(readsCertRefs(Buffer.from('not json')));
});

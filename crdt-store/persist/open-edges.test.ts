// Closing a store opened on a data directory: the signatures of changes that were not
// written durably are still buffered (they go to the journal in batches), and a clean
// close must write them, or a restarted node could not prove those changes to its peers.
import t from 'tap';
import { openStore } from './open.js';
import { SignedChanges } from '../change-auth.js';
import { recordOwner } from '../../records/schema.js';
import { makePki } from '../../test/helpers/identity.js';
import { skipUnless } from '../../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });

t.test('a clean close writes the signatures still buffered', { skip }, async (t) => {
  const pki = makePki(['a']);
  t.teardown(() => pki.cleanup());
  const dir = t.testdir();
  const open = () =>
    openStore(dir, {
      name: 'a',
      clock: () => Date.now(),
      keyOwner: recordOwner,
      auth: new SignedChanges(pki.identity('a')),
    });
  const first = open();
  for (let i = 0; i < 3; i++) first.store.put('kv/k', i, { shared: true }); // not durable: signed and written later, in a batch
  first.close();

  const again = open();
  t.teardown(() => again.close());
  const docs = [...again.store.documents()].filter((d) => d.id.startsWith('s/'));
  t.equal(again.store.get('kv/k')?.value, 2);
  t.equal(docs[0]!.auths.size, 3, 'every signature came back from disk');
});

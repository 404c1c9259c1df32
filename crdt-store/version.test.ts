// A record's version (the KV's check-and-set index): the same on every replica that holds
// the same write, and greater after any later write made on a replica that had seen it.
import t from 'tap';
import { newStore, pipe } from '../test/helpers/dns.js';

t.test('versionOf: agreed across replicas, grows with every write that saw the last', async (t) => {
  const a = newStore('a');
  const b = newStore('b');
  pipe(a, b);
  pipe(b, a);
  t.equal(a.versionOf('kv/x'), undefined, 'no record, no version');
  a.put('kv/x', 1, { shared: true });
  const v1 = a.versionOf('kv/x')!;
  t.ok(v1 > 0);
  t.equal(b.versionOf('kv/x'), v1, 'the replica agrees');
  b.put('kv/x', 2, { shared: true });
  const v2 = b.versionOf('kv/x')!;
  t.ok(v2 > v1, `a later write elsewhere: ${v1} -> ${v2}`);
  t.equal(a.versionOf('kv/x'), v2);
  a.put('kv/y', 1, { shared: true });
  t.equal(a.versionOf('kv/x'), v2, "another key's write leaves it alone");
  a.put('kv/x', 2, { shared: true });
  t.equal(a.versionOf('kv/x'), v2, 'an equal value writes nothing, so the version stays');
  a.delete('kv/x', { shared: true });
  t.equal(a.versionOf('kv/x'), undefined, 'deleted: none');
  for (const s of [a, b]) s.close();
});

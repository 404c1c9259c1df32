// amDecodeChange (automerge.ts) decodes each change's bytes once while they are cached.
import t from 'tap';
import { amCreate, amDecodeChange, amDecodeCacheSize } from './automerge.js';

function changes(n: number): Uint8Array[] {
  const d = amCreate('aa');
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    d.put('_root', `k${i}`, `v${i}`, 'str');
    d.commit(null, 0);
    out.push(d.getLastLocalChange()!);
  }
  d.free();
  return out;
}

/** The same bytes in another array. */
const copy = (x: Uint8Array) => Uint8Array.from(x);

t.test('the same bytes decode once; other bytes are not confused with them', async (t) => {
  const [a, b] = changes(2);
  const da = amDecodeChange(a!);
  t.equal(amDecodeChange(Uint8Array.from(a!)), da, 'equal bytes in another array: the decoded change already made');
  t.not(amDecodeChange(b!), da);
  t.not(amDecodeChange(b!).hash, da.hash);
  const inside = new Uint8Array(a!.length + 8);
  inside.set(a!, 4);
  t.equal(amDecodeChange(inside.subarray(4, 4 + a!.length)), da, 'a view into a larger buffer reads only its bytes');
});

t.test('bytes made to share the cache key of a change are not taken for it', async (t) => {
  // The key is the length and the checksum field, which a peer writes as it likes.
  const [a] = changes(1);
  const da = amDecodeChange(a!);
  const forged = Uint8Array.from(a!);
  forged[forged.length - 3] ^= 1; // same length, same checksum bytes: the same key
  const df = amDecodeChange(forged);
  t.not(df.hash, da.hash, 'the forged bytes decode as themselves');
  t.equal(amDecodeChange(a!).hash, da.hash, 'and the real change still as itself');
  t.equal(amDecodeChange(Uint8Array.from(a!)).hash, da.hash);
});

t.test('bytes that are not a change throw every time', async (t) => {
  const junk = new Uint8Array([1, 2, 3, 4, 5]);
  t.throws(() => amDecodeChange(junk));
  t.throws(() => amDecodeChange(junk), 'again, from the cache');
});

t.test('the cache is bounded, least recently used out first', async (t) => {
  amDecodeCacheSize(2);
  const [a, b, c] = changes(3);
  // Copies: the same bytes in other arrays, found only through the bounded cache.
  const da = amDecodeChange(copy(a!));
  const db = amDecodeChange(copy(b!));
  amDecodeChange(copy(a!)); // a is now the most recent
  amDecodeChange(copy(c!)); // b goes
  t.equal(amDecodeChange(copy(a!)), da, 'a stayed');
  t.not(amDecodeChange(copy(b!)), db, 'b went: decoded afresh');
  t.equal(amDecodeChange(copy(b!)).hash, db.hash);
  amDecodeCacheSize(0);
  t.not(amDecodeChange(a!), amDecodeChange(a!), 'size 0: no cache');
  amDecodeCacheSize(256);
});

t.test('an array decoded once is known by itself, beside the bounded cache', async (t) => {
  // A simulator hands one change's array to every node; an agent decodes one array several times.
  amDecodeCacheSize(1);
  const [a, b] = changes(2);
  const da = amDecodeChange(a!);
  amDecodeChange(b!); // a leaves the cache of one
  t.equal(amDecodeChange(a!), da, 'the same array: the same decoded change');
  t.not(amDecodeChange(copy(a!)), da, 'its bytes in another array: decoded afresh');
  amDecodeCacheSize(256);
});

t.test('a change of many ops is decoded every time, never kept', async (t) => {
  // Automerge's columns run-length encode: few bytes can decode to many ops, which a peer
  // could otherwise pin in the cache.
  const d = amCreate('bb');
  for (let i = 0; i < 100; i++) d.put('_root', `k${i}`, 'v', 'str');
  d.commit(null, 0);
  const many = d.getLastLocalChange()!;
  d.free();
  t.ok(many.length <= 4096, `small in bytes (${many.length})`);
  const first = amDecodeChange(many) as unknown as { ops: unknown[] };
  t.equal(first.ops.length, 100);
  t.not(amDecodeChange(many), first, 'decoded afresh');
  const [small] = changes(1);
  t.equal(amDecodeChange(small!), amDecodeChange(small!), 'a one-op change is still kept');
});

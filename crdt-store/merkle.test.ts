// The batch signatures' Merkle tree (merkle.ts): every leaf's audit path leads to the root
// of its tree, and no changed leaf, place, size or path does.
import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { leafHash, rootFromPath, treeOf } from './merkle.js';

const leaves = (n: number, salt = 0) => Array.from({ length: n }, (_, i) => leafHash([Buffer.from(`m${salt}/${i}`)]));
const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a).equals(b);

t.test('the root is RFC 9162 MTH (a known small tree, computed by hand)', async (t) => {
  const h = (...p: Uint8Array[]) => createHash('sha256').update(Buffer.concat(p)).digest();
  const d = [0, 1, 2].map((i) => Buffer.from([i]));
  const l = d.map((x) => h(Buffer.of(0), x));
  const root = h(Buffer.of(1), h(Buffer.of(1), l[0]!, l[1]!), l[2]!);
  const tree = treeOf(d.map((x) => leafHash([x])));
  t.ok(Buffer.from(tree.root).equals(root));
  t.same(
    tree.paths.map((p) => p.length),
    [2, 2, 1],
  );
});

t.test('every leaf of every tree size reaches the root through its path', async (t) => {
  for (let n = 1; n <= 40; n++) {
    const ls = leaves(n);
    const { root, paths } = treeOf(ls);
    for (let i = 0; i < n; i++) if (!same(rootFromPath(ls[i]!, i, n, paths[i]!), root)) t.fail(`n=${n} i=${i}`);
  }
  t.pass('n = 1..40, each leaf');
});

// The tree's size is not bound by a path alone (leaf 0 of 3 and of 4 have paths of the
// same shape): the signature covers the size with the root (change-auth.ts).
t.test('a changed leaf, index or path never reaches the root', async () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.nat(),
      fc.nat(),
      fc.constantFrom('leaf', 'index', 'drop', 'add', 'flip'),
      (n, iRaw, x, how) => {
        const ls = leaves(n);
        const { root, paths } = treeOf(ls);
        const i = iRaw % n;
        let leaf: Uint8Array = ls[i]!;
        let index = i;
        let path = paths[i]!;
        if (how === 'leaf') leaf = leaves(1, 1 + x)[0]!;
        if (how === 'index') index = (i + 1 + (x % Math.max(1, n - 1))) % Math.max(2, n);
        if (how === 'drop' && path.length > 0) path = path.slice(1);
        if (how === 'add') path = [...path, ls[x % n]!];
        if (how === 'flip' && path.length > 0) {
          const p = Buffer.from(path[0]!);
          p[x % p.length]! ^= 1;
          path = [p, ...path.slice(1)];
        }
        const changed = leaf !== ls[i] || index !== i || path !== paths[i];
        if (!changed) return true;
        return !same(rootFromPath(leaf, index, n, path), root);
      },
    ),
    { numRuns: 2000 },
  );
});

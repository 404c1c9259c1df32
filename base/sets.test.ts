import t from 'tap';
import { sameSet } from './sets.js';

t.test('sameSet: the same elements, in any order; a size or an element apart is not', async (t) => {
  t.ok(sameSet(new Set(['a', 'b']), new Set(['b', 'a'])));
  t.ok(sameSet(new Set(), new Set()));
  t.notOk(sameSet(new Set(['a']), new Set(['a', 'b'])), 'a subset');
  t.notOk(sameSet(new Set(['a', 'b']), new Set(['a'])), 'a superset');
  t.notOk(sameSet(new Set(['a', 'c']), new Set(['a', 'b'])), 'same size, one apart');
});

import t from 'tap';
import { capacityFor, grown } from './typed-arrays.js';

t.test('grown: a larger array of the same kind with the elements in place', async (t) => {
  const a = Float64Array.from([1.5, 2.5]);
  const b = grown(a, 5);
  t.ok(b instanceof Float64Array);
  t.same([...b], [1.5, 2.5, 0, 0, 0]);
  t.not(b, a, 'a copy');
  const u = grown(Uint32Array.from([7]), 2);
  t.ok(u instanceof Uint32Array);
  t.same([...u], [7, 0]);
});

t.test('capacityFor: doubles the length until the index fits', async (t) => {
  t.equal(capacityFor(16, 3), 16, 'fits already');
  t.equal(capacityFor(16, 16), 32);
  t.equal(capacityFor(16, 100), 128);
  t.equal(capacityFor(0, 0), 1, 'an empty array grows too');
});

import t from 'tap';
import { Registry } from 'prom-client';
import { followCounter } from './follow-counter.js';

t.test('followCounter adds what a total grew by, and never goes back when the component restarts', async (t) => {
  const registry = new Registry();
  let instance: object | undefined = {};
  let total = 0;
  followCounter(
    registry,
    'x_total',
    'x',
    [],
    () => (instance ? [[{}, total]] : []),
    () => instance,
  );
  const value = async () => Number(/x_total (\d+)/.exec(await registry.metrics())![1]);
  t.equal(await value(), 0, 'appears at 0');
  total = 5;
  t.equal(await value(), 5);
  total = 7;
  t.equal(await value(), 7);
  instance = undefined; // restarting: nothing to read
  t.equal(await value(), 7);
  instance = {};
  total = 9; // the new instance counted 9 before this scrape, more than the old one's 7
  t.equal(await value(), 16, 'a new instance counts from zero');
  total = 2; // and a total that drops is a reset too
  t.equal(await value(), 18);
});

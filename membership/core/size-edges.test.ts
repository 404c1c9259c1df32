// The message measures: msgpackr's size, and the per-object memo that turns gossip's
// repeated measuring of one message into a lookup (issue 18's mutation survivors).
import t from 'tap';
import { pack } from 'msgpackr';
import type { Message } from '../messages.js';
import { defaultMeasure, memoized, msgpackSize } from './size.js';

const ack = (seq: number): Message => ({ t: 'ack', seq });

t.test('msgpackSize is the packed length', async (t) => {
  const m = ack(300);
  t.equal(msgpackSize(m), pack(m).length);
  t.ok(msgpackSize(ack(70_000)) > msgpackSize(ack(1)), 'a larger value packs longer');
  t.equal(defaultMeasure(m), pack(m).length, 'the default measure agrees');
});

t.test('memoized measures each object once, and each object by itself', async (t) => {
  let calls = 0;
  const measure = memoized((msg) => {
    calls++;
    return (msg as { seq: number }).seq;
  });
  const a = ack(5);
  const b = ack(7);
  t.equal(measure(a), 5);
  t.equal(measure(a), 5);
  t.equal(calls, 1, 'the second time is a lookup');
  t.equal(measure(b), 7, 'another object, its own size');
  t.equal(calls, 2);
  t.equal(measure(ack(5)), 5, 'an equal but distinct object is measured');
  t.equal(calls, 3);
  const zero = memoized(() => {
    calls++;
    return 0;
  });
  zero(a);
  zero(a);
  t.equal(calls, 4, 'a size of 0 is remembered too');
});

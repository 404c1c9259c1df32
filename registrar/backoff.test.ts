import t from 'tap';
import { Backoff } from './backoff.js';

t.test('doubles from 0.5 s to 30 s and resets', async (t) => {
  const b = new Backoff({ random: () => 0.5 }); // no jitter at the midpoint
  const seen = Array.from({ length: 10 }, () => b.next());
  t.same(seen, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  b.reset();
  t.equal(b.next(), 500);
});

t.test('jitter stays within +-20 % and never above the cap', async (t) => {
  const lo = new Backoff({ random: () => 0 });
  const hi = new Backoff({ random: () => 0.999999 });
  t.equal(lo.next(), 400);
  t.equal(hi.next(), 600);
  for (let i = 0; i < 12; i++) {
    t.ok(lo.next() >= 400);
    t.ok(hi.next() <= 30_000);
  }
  const b = new Backoff();
  const delays = Array.from({ length: 50 }, () => (b.reset(), b.next()));
  t.ok(new Set(delays).size > 1, 'delays differ between attempts');
});

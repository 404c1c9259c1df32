import t from 'tap';
import { DeadlineTimer } from './deadline-timer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('fires once at the deadline, re-arming to the same deadline is a no-op', async (t) => {
  const fired: number[] = [];
  const timer = new DeadlineTimer(
    () => performance.now(),
    (now) => fired.push(now),
  );
  const at = performance.now() + 20;
  timer.arm(at);
  timer.arm(at);
  await sleep(60);
  t.equal(fired.length, 1);
  t.ok(fired[0]! >= at, 'not before the deadline');
});

t.test('a new deadline replaces the old; Infinity and stop() cancel', async (t) => {
  const fired: string[] = [];
  const timer = new DeadlineTimer(
    () => performance.now(),
    () => fired.push('x'),
  );
  timer.arm(performance.now() + 10_000);
  timer.arm(performance.now() + 10);
  await sleep(50);
  t.same(fired, ['x'], 'the nearer deadline fired, the far one is gone');
  timer.arm(performance.now() + 10);
  timer.arm(Infinity);
  await sleep(40);
  t.same(fired, ['x'], 'Infinity disarms');
  timer.arm(performance.now() + 10);
  timer.stop();
  timer.arm(performance.now() + 10);
  await sleep(40);
  t.same(fired, ['x'], 'stopped for good');
});

import t from 'tap';
import { DEFAULT_INTENSITY, recordRestart, validateLimits } from './intensity.js';

t.test('allows maxRestarts within the period and gives up on the next', async (t) => {
  const limits = { maxRestarts: 3, periodMs: 5000 };
  let times: number[] = [];
  for (const now of [0, 100, 200]) {
    const r = recordRestart(times, now, limits);
    t.equal(r.exceeded, false, `restart at ${now} is within the limit`);
    times = r.times;
  }
  const fourth = recordRestart(times, 300, limits);
  t.equal(fourth.exceeded, true, 'the fourth restart within 5 s is one too many');
});

t.test('restarts older than the period no longer count', async (t) => {
  const limits = { maxRestarts: 2, periodMs: 1000 };
  let r = recordRestart([], 0, limits);
  r = recordRestart(r.times, 500, limits);
  r = recordRestart(r.times, 1001, limits);
  t.equal(r.exceeded, false, 'the restart at 0 slid out of the window');
  t.same(r.times, [500, 1001]);
  r = recordRestart(r.times, 1400, limits);
  t.equal(r.exceeded, true, '500, 1001, 1400 are three within 1000 ms');
});

t.test('a restart exactly one period old still counts (OTP uses >=)', async (t) => {
  const limits = { maxRestarts: 1, periodMs: 1000 };
  const first = recordRestart([], 0, limits);
  t.equal(recordRestart(first.times, 1000, limits).exceeded, true);
  t.equal(recordRestart(first.times, 1001, limits).exceeded, false);
});

t.test('maxRestarts 0 gives up on the first restart', async (t) => {
  t.equal(recordRestart([], 42, { maxRestarts: 0, periodMs: 1000 }).exceeded, true);
});

t.test('does not modify the input window', async (t) => {
  const times = Object.freeze([1, 2]) as readonly number[];
  recordRestart(times, 3, DEFAULT_INTENSITY);
  t.same(times, [1, 2]);
});

t.test('OTP defaults and validation', async (t) => {
  t.same({ ...DEFAULT_INTENSITY }, { maxRestarts: 3, periodMs: 5000 });
  t.throws(() => validateLimits({ maxRestarts: -1, periodMs: 1 }));
  t.throws(() => validateLimits({ maxRestarts: 1.5, periodMs: 1 }));
  t.throws(() => validateLimits({ maxRestarts: 1, periodMs: 0 }));
  t.throws(() => validateLimits({ maxRestarts: 1, periodMs: Number.NaN }));
  t.doesNotThrow(() => validateLimits({ maxRestarts: 0, periodMs: 1 }));
});

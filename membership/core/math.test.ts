// Golden values from hashicorp/memberlist's util_test.go and suspicion_test.go: the
// formulas must agree with memberlist to the millisecond for like-for-like comparisons.
import t from 'tap';
import {
  confirmationsCounted,
  expectedConfirmations,
  pushPullScale,
  remainingSuspicionTime,
  retransmitLimit,
  suspicionTimeout,
  suspicionTimeoutAfter,
} from './math.js';

t.test('suspicion timeout golden values (memberlist TestSuspicionTimeout)', async (t) => {
  const golden: [number, number][] = [
    [5, 1000],
    [10, 1000],
    [50, 1698],
    [100, 2000],
    [500, 2698],
    [1000, 3000],
  ];
  for (const [n, expected] of golden) t.equal(suspicionTimeout(3, n, 1000) / 3, expected, `n=${n}`);
  t.equal(suspicionTimeout(4, 1000, 1000), 12_000, 'lan preset at 1,000 nodes: 12 s minimum');
  t.equal(suspicionTimeout(4, 0, 1000), 4000, 'empty cluster: log floored at 1');
});

t.test('retransmit limit golden values (memberlist TestRetransmitLimit)', async (t) => {
  t.equal(retransmitLimit(3, 0), 0);
  t.equal(retransmitLimit(3, 1), 3);
  t.equal(retransmitLimit(3, 99), 6);
  t.equal(retransmitLimit(4, 1000), 16, 'lan preset at 1,000 nodes');
});

t.test('remaining suspicion time golden values (memberlist TestSuspicion_remainingSuspicionTime)', async (t) => {
  const cases: [n: number, k: number, elapsed: number, min: number, max: number, expected: number][] = [
    [0, 3, 0, 2000, 30_000, 30_000],
    [1, 3, 2000, 2000, 30_000, 14_000],
    [2, 3, 3000, 2000, 30_000, 4810],
    [3, 3, 4000, 2000, 30_000, -2000],
    [4, 3, 5000, 2000, 30_000, -3000],
    [5, 3, 10_000, 2000, 30_000, -8000],
  ];
  for (const [n, k, elapsed, min, max, expected] of cases) {
    t.equal(remainingSuspicionTime(n, k, elapsed, min, max), expected, `n=${n} k=${k} elapsed=${elapsed}`);
  }
  t.equal(remainingSuspicionTime(0, 0, 0, 2000, 30_000), 2000, 'k=0 expects no confirmations: straight to min');
});

t.test('past k, one more confirmation takes the timeout below min (weft, not memberlist)', async (t) => {
  // lan at 20 members: min 5.2 s, max 31.2 s, k = 2.
  const [min, max, k] = [5204, 31_224, 2];
  for (let n = 0; n <= k; n++) {
    t.equal(suspicionTimeoutAfter(n, k, min, max), remainingSuspicionTime(n, k, 0, min, max), `n=${n}: Lifeguard's`);
  }
  t.equal(suspicionTimeoutAfter(k + 1, k, min, max), 3903, 'k + 1: 3/4 of min');
  t.equal(suspicionTimeoutAfter(k + 5, k, min, max), 3903, 'no further: one step only');
  t.equal(confirmationsCounted(k), k + 1);
  t.equal(confirmationsCounted(0), 0, 'k = 0 counts none');
  t.equal(suspicionTimeoutAfter(3, 0, 2000, 12_000), 2000, 'k = 0: min whatever is heard');
});

t.test('k is suspicionMult - 2, or 0 where too few others live to confirm', async (t) => {
  t.equal(expectedConfirmations(4, 20), 2);
  t.equal(expectedConfirmations(4, 4), 2, 'four members: two others besides the suspecter and the suspect');
  t.equal(expectedConfirmations(4, 3), 0);
  t.equal(expectedConfirmations(2, 20), 0);
});

t.test('push/pull interval scales past 32 nodes (memberlist TestPushPullScale)', async (t) => {
  for (let n = 0; n <= 32; n++) t.equal(pushPullScale(1000, n), 1000, `n=${n}`);
  for (let n = 33; n <= 64; n++) t.equal(pushPullScale(1000, n), 2000, `n=${n}`);
  for (let n = 65; n <= 128; n++) t.equal(pushPullScale(1000, n), 3000, `n=${n}`);
  t.equal(pushPullScale(30_000, 1000), 180_000, 'lan preset at 1,000 nodes: every 3 minutes');
});

// The reconcile runner on a manual clock: debounce, minimum interval, periodic full pass,
// jittered backoff and one pass at a time, each checked by when passes start.
import t from 'tap';
import { ReconcileRunner, type ReconcileRunnerOptions, type RunnerTimers } from './reconcile-runner.js';

class ManualTimers implements RunnerTimers {
  t = 0;
  private seq = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  wall = (): number => 1_700_000_000_000 + this.t;
  set = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  };
  clear = (h: unknown): void => {
    this.pending.delete(h as number);
  };
  get armed(): number {
    return this.pending.size;
  }
  /** Moves the clock forward, firing due timers in order and letting promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

interface Harness {
  clock: ManualTimers;
  runner: ReconcileRunner;
  /** [start time, full] per pass. */
  starts: [number, boolean][];
  /** When set, passes wait for release() before they end. */
  hold: boolean;
  release(): void;
  failNext: number;
  inFlight: number;
  maxInFlight: number;
}

function harness(over: Partial<ReconcileRunnerOptions> = {}): Harness {
  const clock = new ManualTimers();
  let waiting: (() => void)[] = [];
  const h: Harness = {
    clock,
    starts: [],
    hold: false,
    failNext: 0,
    inFlight: 0,
    maxInFlight: 0,
    release: () => {
      const w = waiting;
      waiting = [];
      for (const r of w) r();
    },
    runner: undefined as unknown as ReconcileRunner,
  };
  h.runner = new ReconcileRunner({
    debounceMs: 10,
    minIntervalMs: 0,
    fullEveryMs: 10_000,
    retryBaseMs: 1000,
    retryMaxMs: 8000,
    retryJitter: 0,
    timers: clock,
    random: () => 0.5,
    ...over,
    pass: async (full) => {
      h.starts.push([clock.now(), full]);
      h.inFlight++;
      h.maxInFlight = Math.max(h.maxInFlight, h.inFlight);
      try {
        if (h.hold) await new Promise<void>((r) => waiting.push(r));
        if (h.failNext > 0) {
          h.failNext--;
          throw new Error('kernel said no');
        }
        return { changed: true };
      } finally {
        h.inFlight--;
      }
    },
  });
  return h;
}

t.test('a burst of changes within the debounce window is one pass, debounceMs after the first', async (t) => {
  const h = harness();
  h.runner.request();
  await h.clock.advance(4);
  h.runner.request();
  await h.clock.advance(4);
  h.runner.request();
  await h.clock.advance(1);
  t.same(h.starts, [], 'nothing before the window ends');
  await h.clock.advance(1);
  t.same(h.starts, [[10, false]], 'one pass, 10 ms after the first change, not a full one');
  await h.clock.advance(100);
  t.equal(h.starts.length, 1, 'no pass without a change');
});

t.test('a steady stream of changes cannot postpone the pass forever', async (t) => {
  const h = harness();
  for (let i = 0; i < 30; i++) {
    h.runner.request();
    await h.clock.advance(2);
  }
  t.ok(h.starts.length >= 5, `passes ran during the stream (${h.starts.length})`);
});

t.test('passes start at least minIntervalMs apart', async (t) => {
  const h = harness({ minIntervalMs: 500 });
  h.runner.request();
  await h.clock.advance(10);
  t.same(
    h.starts.map((s) => s[0]),
    [10],
  );
  h.runner.request();
  await h.clock.advance(100);
  t.equal(h.starts.length, 1, 'the second change waits for the interval');
  await h.clock.advance(400);
  t.same(
    h.starts.map((s) => s[0]),
    [10, 510],
    'then runs once the interval from the last start is over',
  );
});

t.test('one pass at a time: changes during a pass cause exactly one more, after it', async (t) => {
  const h = harness();
  h.hold = true;
  h.runner.request();
  await h.clock.advance(10);
  t.equal(h.starts.length, 1);
  for (let i = 0; i < 5; i++) {
    h.runner.request();
    await h.clock.advance(20);
  }
  const now = h.runner.runNow();
  await h.clock.advance(20);
  t.equal(h.starts.length, 1, 'nothing starts while a pass runs');
  h.release();
  await h.clock.advance(0);
  h.release();
  await now;
  await h.clock.advance(100);
  h.release();
  await h.clock.advance(100);
  t.equal(h.maxInFlight, 1, 'never two passes at once');
  t.ok(
    h.starts.length >= 2 && h.starts.length <= 3,
    `one follow-up for the changes (runNow may add its own): ${h.starts.length}`,
  );
});

t.test('a failure retries as a full pass with doubling backoff, capped, reset by success', async (t) => {
  const retries: (number | undefined)[] = [];
  const h = harness({ onPass: (_s, r) => retries.push(r) });
  h.failNext = 5;
  h.runner.request();
  await h.clock.advance(10);
  await h.clock.advance(20_000);
  t.same(retries, [1000, 2000, 4000, 8000, 8000], 'delays double up to retryMaxMs');
  t.same(
    h.starts.map((s) => s[0]),
    [10, 1010, 3010, 7010, 15010],
  );
  t.ok(
    h.starts.slice(1).every((s) => s[1]),
    'retries are full passes',
  );
  t.equal(h.runner.last?.ok, false, 'still failing at 20 s');
  await h.clock.advance(10_000);
  t.equal(h.runner.last?.ok, true);
  t.equal(retries.at(-1), undefined, 'no retry after the success');
  h.failNext = 1;
  h.runner.request();
  await h.clock.advance(10);
  t.same(retries.slice(-1), [1000], 'the backoff starts again from the base after a success');
});

t.test('retry delays are jittered within ±jitter/2', async (t) => {
  const delays: number[] = [];
  for (const r of [0, 0.999]) {
    const h = harness({ retryJitter: 0.4, random: () => r, onPass: (_s, d) => d !== undefined && delays.push(d) });
    h.failNext = 1;
    h.runner.request();
    await h.clock.advance(10);
  }
  t.same(delays, [800, 1200]);
});

t.test('the periodic full pass, and its status shape', async (t) => {
  const h = harness();
  h.runner.start();
  await h.clock.advance(9_999);
  t.same(h.starts, []);
  await h.clock.advance(1);
  t.same(h.starts, [[10_000, true]]);
  await h.clock.advance(10_000);
  t.same(
    h.starts.map((s) => s[0]),
    [10_000, 20_000],
  );
  const s = h.runner.last!;
  t.same(Object.keys(s).sort(), ['at', 'changed', 'durationMs', 'full', 'ok']);
  t.match(s, { ok: true, changed: true, full: true, durationMs: 0 });
  t.equal(h.runner.passes, 2);
  await h.runner.stop();
  await h.clock.advance(50_000);
  t.equal(h.starts.length, 2, 'no pass after stop');
  t.equal(h.clock.armed, 0, 'no timer left');
});

t.test('runNow runs at once, bypassing debounce, and a full one restarts the period', async (t) => {
  const h = harness({ minIntervalMs: 1000 });
  h.runner.start();
  await h.clock.advance(5_000);
  const s = await h.runner.runNow(true);
  t.match(s, { ok: true, full: true });
  t.same(h.starts, [[5_000, true]]);
  await h.clock.advance(9_999);
  t.equal(h.starts.length, 1, 'the periodic pass counts from the last full pass');
  await h.clock.advance(1);
  t.equal(h.starts.length, 2);
  await h.runner.stop();
});

import t from 'tap';
import {
  GaveUpError,
  Supervisor,
  supervisorChild,
  type Child,
  type ChildContext,
  type ChildSpec,
  type RestartType,
  type SupervisorEvent,
  type SupervisorOptions,
} from './index.js';

// ---------------------------------------------------------------------------
// Harness: fake components that record what happens to them, and waits on events
// rather than sleeps, so the tests hold on a loaded machine.

interface Instance {
  id: string;
  /** 1 for the first incarnation, 2 after the first restart, ... */
  n: number;
  ctx: ChildContext;
  /** Stand-in for a component's in-memory state: survives only if the instance does. */
  count: number;
  stopCalls: number;
  killed: boolean;
}

interface FakeOptions {
  restart?: RestartType;
  shutdownMs?: number;
  startDelayMs?: number;
  stopDelayMs?: number;
  /** Return an error to make start attempt `attempt` (1-based) reject. */
  failStart?: (attempt: number) => Error | undefined;
  /** stop() never settles for these incarnations. */
  hangStop?: (n: number) => boolean;
  /** stop() rejects. */
  failStop?: boolean;
  /** Give the handle a kill() (default true). */
  withKill?: boolean;
  /** kill() throws. */
  killThrows?: boolean;
  /** start waits until ctx.signal is aborted, then rejects. */
  startUntilAborted?: boolean;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class World {
  readonly log: string[] = [];
  readonly events: SupervisorEvent[] = [];
  readonly instances = new Map<string, Instance[]>();
  /** Child operations in flight per supervisor; a supervisor must never run two at once. */
  readonly #inFlight = new Map<string, number>();
  overlaps = 0;
  readonly #waiters: Array<() => void> = [];

  readonly onEvent = (event: SupervisorEvent): void => {
    this.events.push(event);
    for (const wake of this.#waiters.splice(0)) wake();
  };

  options(extra: Partial<SupervisorOptions> & { children: ChildSpec[] }): SupervisorOptions {
    return { onEvent: this.onEvent, maxRestarts: 10, periodMs: 60_000, ...extra };
  }

  spec(id: string, o: FakeOptions = {}): ChildSpec {
    let attempts = 0;
    return {
      id,
      restart: o.restart ?? 'permanent',
      shutdownMs: o.shutdownMs ?? 1000,
      start: async (ctx) => {
        const attempt = ++attempts;
        this.#enter(ctx.supervisor);
        try {
          this.log.push(`start:${id}`);
          if (o.startDelayMs) await delay(o.startDelayMs);
          if (o.startUntilAborted) {
            await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
            throw new Error(`start of ${id} aborted`);
          }
          const err = o.failStart?.(attempt);
          if (err) {
            this.log.push(`failed:${id}`);
            throw err;
          }
          const list = this.instances.get(id) ?? [];
          this.instances.set(id, list);
          const inst: Instance = { id, n: list.length + 1, ctx, count: 0, stopCalls: 0, killed: false };
          list.push(inst);
          this.log.push(`ready:${id}`);
          const handle: Child = {
            stop: async () => {
              inst.stopCalls++;
              this.log.push(`stop:${id}`);
              if (o.hangStop?.(inst.n)) return new Promise<void>(() => undefined);
              this.#enter(ctx.supervisor);
              try {
                if (o.stopDelayMs) await delay(o.stopDelayMs);
                if (o.failStop) throw new Error(`stop of ${id} failed`);
                this.log.push(`stopped:${id}`);
              } finally {
                this.#leave(ctx.supervisor);
              }
            },
          };
          if (o.withKill !== false) {
            handle.kill = () => {
              inst.killed = true;
              this.log.push(`kill:${id}`);
              if (o.killThrows) throw new Error(`kill of ${id} threw`);
            };
          }
          return handle;
        } finally {
          this.#leave(ctx.supervisor);
        }
      },
    };
  }

  /** The newest incarnation of a child. */
  current(id: string): Instance {
    const list = this.instances.get(id);
    const inst = list?.[list.length - 1];
    if (!inst) throw new Error(`${id} never started`);
    return inst;
  }

  incarnations(id: string): number {
    return this.instances.get(id)?.length ?? 0;
  }

  /** Log entries from `mark` on. */
  since(mark: number): string[] {
    return this.log.slice(mark);
  }

  count(pred: (e: SupervisorEvent) => boolean): number {
    return this.events.filter(pred).length;
  }

  /** Resolves once `times` events in total match; fails loudly instead of hanging. */
  async until(pred: (e: SupervisorEvent) => boolean, times = 1, label = 'event'): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (this.count(pred) < times) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${label}; events: ${this.events.map((e) => `${e.type}:${'id' in e ? e.id : e.supervisor}`).join(' ')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #enter(supervisor: string): void {
    const n = (this.#inFlight.get(supervisor) ?? 0) + 1;
    if (n > 1) this.overlaps++;
    this.#inFlight.set(supervisor, n);
  }

  #leave(supervisor: string): void {
    this.#inFlight.set(supervisor, (this.#inFlight.get(supervisor) ?? 1) - 1);
  }
}

const is =
  (type: SupervisorEvent['type'], id?: string) =>
  (e: SupervisorEvent): boolean =>
    e.type === type && (id === undefined || ('id' in e && e.id === id));

const states = (sup: Supervisor) => sup.status().map((s) => `${s.id}:${s.state}:${s.restarts}`);

// ---------------------------------------------------------------------------

t.test('starts children in order, each after the previous is ready, and stops them in reverse', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      name: 'weft',
      children: [
        w.spec('a', { startDelayMs: 15, stopDelayMs: 5 }),
        w.spec('b', { startDelayMs: 5, stopDelayMs: 15 }),
        w.spec('c', { startDelayMs: 10, stopDelayMs: 5 }),
      ],
    }),
  );
  await sup.start();
  t.same(w.log, ['start:a', 'ready:a', 'start:b', 'ready:b', 'start:c', 'ready:c']);
  t.same(
    w.events.filter(is('child_started')).map((e) => `${e.supervisor}/${'id' in e ? e.id : ''}`),
    ['weft/a', 'weft/b', 'weft/c'],
  );
  t.same(states(sup), ['a:running:0', 'b:running:0', 'c:running:0']);
  t.equal(w.current('b').ctx.supervisor, 'weft');
  t.equal(w.current('b').ctx.id, 'b');

  const mark = w.log.length;
  await sup.stop();
  t.same(w.since(mark), ['stop:c', 'stopped:c', 'stop:b', 'stopped:b', 'stop:a', 'stopped:a']);
  t.same(states(sup), ['a:stopped:0', 'b:stopped:0', 'c:stopped:0']);
  t.ok(w.current('a').ctx.signal.aborted, 'a stopped incarnation sees its signal aborted');
  t.equal(w.overlaps, 0, 'no two child operations ran at once');
  await sup.stop(); // idempotent
});

t.test('one_for_one: only the crashed child restarts, siblings keep their state', async (t) => {
  const w = new World();
  const sup = new Supervisor(w.options({ strategy: 'one_for_one', children: [w.spec('a'), w.spec('b'), w.spec('c')] }));
  await sup.start();
  w.current('a').count = 1;
  w.current('b').count = 2;
  w.current('c').count = 3;
  const mark = w.log.length;
  w.current('b').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'b'));

  t.same(
    w.since(mark),
    ['stop:b', 'stopped:b', 'start:b', 'ready:b'],
    'the crashed child is released, then started again',
  );
  t.equal(w.current('a').n, 1);
  t.equal(w.current('a').count, 1, 'a kept its state');
  t.equal(w.current('c').n, 1);
  t.equal(w.current('c').count, 3, 'c kept its state');
  t.equal(w.current('b').n, 2);
  t.equal(w.current('b').count, 0, 'b is a fresh incarnation');
  t.same(states(sup), ['a:running:0', 'b:running:1', 'c:running:0']);
  const crashed = w.events.find(is('child_crashed', 'b'));
  t.match(crashed, { supervisor: 'root', id: 'b', during: 'run', error: { message: 'boom' } });

  // A report from the old incarnation is ignored.
  w.instances.get('b')![0]!.ctx.crash(new Error('late'));
  w.current('a').ctx.crash(new Error('second'));
  await w.until(is('child_restarted', 'a'));
  t.equal(w.incarnations('b'), 2, 'stale crash of b#1 did not restart b');
  t.same(states(sup), ['a:running:1', 'b:running:1', 'c:running:0']);
  await sup.stop();
  t.equal(w.overlaps, 0);
});

t.test('one_for_all: a crash restarts all, stopping in reverse and starting in order', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      strategy: 'one_for_all',
      children: [w.spec('a', { stopDelayMs: 5 }), w.spec('b', { startDelayMs: 5 }), w.spec('c', { stopDelayMs: 5 })],
    }),
  );
  await sup.start();
  w.current('a').count = 1;
  w.current('c').count = 3;
  const mark = w.log.length;
  w.current('b').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'c'));

  t.same(w.since(mark), [
    'stop:c',
    'stopped:c',
    'stop:b',
    'stopped:b',
    'stop:a',
    'stopped:a',
    'start:a',
    'ready:a',
    'start:b',
    'ready:b',
    'start:c',
    'ready:c',
  ]);
  for (const id of ['a', 'b', 'c']) {
    t.equal(w.current(id).n, 2, `${id} restarted`);
    t.equal(w.current(id).count, 0, `${id} state reset`);
  }
  t.same(states(sup), ['a:running:1', 'b:running:1', 'c:running:1']);
  t.equal(w.count(is('child_crashed')), 1, 'one crash');
  await sup.stop();
  t.equal(w.overlaps, 0);
});

t.test('rest_for_one: the crashed child and those after it restart, earlier ones keep state', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({ strategy: 'rest_for_one', children: [w.spec('a'), w.spec('b'), w.spec('c'), w.spec('d')] }),
  );
  await sup.start();
  w.current('a').count = 1;
  let mark = w.log.length;
  w.current('b').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'd'));
  t.same(w.since(mark), [
    'stop:d',
    'stopped:d',
    'stop:c',
    'stopped:c',
    'stop:b',
    'stopped:b',
    'start:b',
    'ready:b',
    'start:c',
    'ready:c',
    'start:d',
    'ready:d',
  ]);
  t.equal(w.current('a').n, 1);
  t.equal(w.current('a').count, 1, 'a, started before b, kept its state');
  t.same(states(sup), ['a:running:0', 'b:running:1', 'c:running:1', 'd:running:1']);

  w.current('c').count = 7;
  mark = w.log.length;
  w.current('d').ctx.crash(new Error('last one'));
  await w.until(is('child_restarted', 'd'), 2);
  t.same(w.since(mark), ['stop:d', 'stopped:d', 'start:d', 'ready:d'], 'the last child restarts alone');
  t.equal(w.current('c').count, 7);
  await sup.stop();
  t.equal(w.overlaps, 0);
});

t.test('intensity: one restart too many stops all children in reverse and gives up', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({ maxRestarts: 2, periodMs: 60_000, children: [w.spec('a'), w.spec('b'), w.spec('c')] }),
  );
  let calledBack: Error | undefined;
  void sup.gaveUp.then((err) => (calledBack = err));
  await sup.start();
  w.current('b').ctx.crash(new Error('1'));
  await w.until(is('child_restarted', 'b'), 1);
  w.current('b').ctx.crash(new Error('2'));
  await w.until(is('child_restarted', 'b'), 2);
  const mark = w.log.length;
  w.current('b').ctx.crash(new Error('3'));
  const err = await sup.gaveUp;

  t.ok(err instanceof GaveUpError, 'gaveUp resolves with a GaveUpError');
  t.equal(err.supervisor, 'root');
  t.match(err.message, /more than 2 restarts within 60000 ms.*child b crashed: 3/);
  t.match(err.cause, { message: '3' });
  t.same(w.since(mark), ['stop:c', 'stopped:c', 'stop:b', 'stopped:b', 'stop:a', 'stopped:a']);
  t.same(states(sup), ['a:stopped:0', 'b:stopped:2', 'c:stopped:0']);
  t.equal(w.count(is('gave_up')), 1);
  t.equal(calledBack, err);
  await sup.stop(); // resolves at once after giving up
  t.equal(w.incarnations('b'), 3, 'no restart after giving up');
});

t.test('intensity window slides: restarts spread out over time are fine', async (t) => {
  const w = new World();
  let now = 0;
  const sup = new Supervisor(w.options({ maxRestarts: 1, periodMs: 1000, now: () => now, children: [w.spec('a')] }));
  await sup.start();
  for (let i = 1; i <= 4; i++) {
    now += 1500;
    w.current('a').ctx.crash(new Error(`crash ${i}`));
    await w.until(is('child_restarted', 'a'), i);
  }
  t.same(states(sup), ['a:running:4']);
  t.equal(w.count(is('gave_up')), 0);
  await sup.stop();
});

t.test('a nested supervisor that gives up is restarted by its parent', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      name: 'weft',
      strategy: 'one_for_one',
      children: [
        w.spec('x'),
        supervisorChild('inner', {
          strategy: 'one_for_one',
          maxRestarts: 1,
          periodMs: 60_000,
          children: [w.spec('p'), w.spec('q')],
        }),
        w.spec('y'),
      ],
    }),
  );
  await sup.start();
  t.equal(w.current('p').ctx.supervisor, 'weft/inner');
  t.same(sup.status()[1], {
    id: 'inner',
    state: 'running',
    restarts: 0,
    children: [
      { id: 'p', state: 'running', restarts: 0 },
      { id: 'q', state: 'running', restarts: 0 },
    ],
  });
  w.current('x').count = 10;
  w.current('y').count = 20;
  w.current('q').count = 5;

  w.current('p').ctx.crash(new Error('p1'));
  await w.until(is('child_restarted', 'p'));
  t.equal(w.current('q').count, 5, 'inner one_for_one kept q');
  const mark = w.log.length;
  w.current('p').ctx.crash(new Error('p2'));
  await w.until(is('child_restarted', 'inner'));

  t.same(w.since(mark), ['stop:q', 'stopped:q', 'stop:p', 'stopped:p', 'start:p', 'ready:p', 'start:q', 'ready:q']);
  t.match(w.events.find(is('gave_up')), { supervisor: 'weft/inner' });
  const escalated = w.events.find(is('child_crashed', 'inner'));
  t.match(escalated, { supervisor: 'weft', during: 'run' });
  t.ok(escalated && 'error' in escalated && escalated.error instanceof GaveUpError, 'the parent saw the GaveUpError');
  t.equal(w.current('x').n, 1);
  t.equal(w.current('x').count, 10, 'sibling before kept its state');
  t.equal(w.current('y').count, 20, 'sibling after kept its state');
  t.equal(w.current('q').count, 0, 'q is fresh');
  t.same(
    sup.status()[1],
    {
      id: 'inner',
      state: 'running',
      restarts: 1,
      children: [
        { id: 'p', state: 'running', restarts: 0 },
        { id: 'q', state: 'running', restarts: 0 },
      ],
    },
    'the new inner supervisor has a fresh intensity and fresh counters',
  );
  t.equal(w.count(is('gave_up')), 1, 'only the inner supervisor gave up');

  // The new inner supervisor is wired the same way: it escalates again.
  w.current('p').ctx.crash(new Error('p3'));
  await w.until(is('child_restarted', 'p'), 2);
  w.current('p').ctx.crash(new Error('p4'));
  await w.until(is('child_restarted', 'inner'), 2);

  const stopMark = w.log.length;
  await sup.stop();
  t.same(w.since(stopMark), [
    'stop:y',
    'stopped:y',
    'stop:q',
    'stopped:q',
    'stop:p',
    'stopped:p',
    'stop:x',
    'stopped:x',
  ]);
  t.equal(w.overlaps, 0);
});

t.test('the root gives up when a nested supervisor keeps escalating', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      maxRestarts: 1,
      children: [w.spec('x'), supervisorChild('inner', { maxRestarts: 0, children: [w.spec('p')] })],
    }),
  );
  await sup.start();
  w.current('p').ctx.crash(new Error('p1'));
  await w.until(is('child_restarted', 'inner'));
  const mark = w.log.length;
  w.current('p').ctx.crash(new Error('p2'));
  const err = await sup.gaveUp;
  t.equal(err.supervisor, 'root');
  t.match(err.message, /child inner crashed: supervisor root\/inner gave up/);
  t.same(
    w.events.filter(is('gave_up')).map((e) => e.supervisor),
    ['root/inner', 'root/inner', 'root'],
  );
  t.same(w.since(mark), ['stop:p', 'stopped:p', 'stop:x', 'stopped:x']);
  t.same(states(sup), ['x:stopped:0', 'inner:stopped:1']);
});

t.test('a child that does not stop within shutdownMs is killed and the supervisor carries on', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      strategy: 'one_for_all',
      children: [
        w.spec('a'),
        w.spec('b', { shutdownMs: 30, hangStop: () => true }),
        w.spec('c', { shutdownMs: 30, hangStop: () => true, withKill: false }),
      ],
    }),
  );
  await sup.start();
  const mark = w.log.length;
  const t0 = Date.now();
  w.current('a').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'c'));
  t.same(w.since(mark), [
    'stop:c',
    'stop:b',
    'kill:b',
    'stop:a',
    'stopped:a',
    'start:a',
    'ready:a',
    'start:b',
    'ready:b',
    'start:c',
    'ready:c',
  ]);
  t.ok(Date.now() - t0 >= 50, 'waited the shutdown timeouts');
  t.ok(w.instances.get('b')![0]!.killed, 'b#1 was killed');
  t.match(w.events.filter(is('child_killed')), [
    { id: 'c', afterMs: 30 },
    { id: 'b', afterMs: 30 },
  ]);

  const stopMark = w.log.length;
  await sup.stop();
  t.same(
    w.since(stopMark),
    ['stop:c', 'stop:b', 'kill:b', 'stop:a', 'stopped:a'],
    'shutdown is not held up by hung children either',
  );
  t.same(states(sup), ['a:stopped:1', 'b:stopped:1', 'c:stopped:1']);
});

t.test('a stop() that rejects is reported and followed by kill()', async (t) => {
  const w = new World();
  const sup = new Supervisor(w.options({ children: [w.spec('a', { failStop: true, killThrows: true }), w.spec('b')] }));
  await sup.start();
  w.current('a').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'a'));
  t.match(w.events.find(is('child_stop_failed', 'a')), { error: { message: 'stop of a failed' } });
  t.ok(w.instances.get('a')![0]!.killed);
  await sup.stop();
  t.same(states(sup), ['a:stopped:1', 'b:stopped:0']);
});

t.test('transient: a normal exit is final, a crash restarts it', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      children: [w.spec('a', { restart: 'transient' }), w.spec('b', { restart: 'transient' }), w.spec('c')],
    }),
  );
  await sup.start();
  let mark = w.log.length;
  w.current('a').ctx.exit();
  await w.until(is('child_stopped', 'a'));
  t.same(w.since(mark), ['stop:a', 'stopped:a'], 'released, not restarted');
  t.equal(w.count(is('child_exited', 'a')), 1);
  t.equal(w.count(is('child_crashed')), 0);

  mark = w.log.length;
  w.current('b').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'b'));
  t.same(w.since(mark), ['stop:b', 'stopped:b', 'start:b', 'ready:b']);
  t.same(states(sup), ['a:stopped:0', 'b:running:1', 'c:running:0']);
  t.equal(w.incarnations('a'), 1);
  await sup.stop();
});

t.test('permanent: restarted even after a normal exit', async (t) => {
  const w = new World();
  const sup = new Supervisor(w.options({ children: [w.spec('a')] }));
  await sup.start();
  w.current('a').ctx.exit();
  await w.until(is('child_restarted', 'a'));
  t.equal(w.count(is('child_exited', 'a')), 1);
  t.same(states(sup), ['a:running:1']);
  await sup.stop();
});

t.test('temporary: never restarted, not even by a sibling group restart', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      strategy: 'one_for_all',
      children: [
        w.spec('a'),
        w.spec('t1', { restart: 'temporary' }),
        w.spec('t2', { restart: 'temporary' }),
        w.spec('t3', { restart: 'temporary' }),
      ],
    }),
  );
  await sup.start();
  let mark = w.log.length;
  w.current('t1').ctx.crash(new Error('boom'));
  await w.until(is('child_stopped', 't1'));
  w.current('t2').ctx.exit();
  await w.until(is('child_stopped', 't2'));
  t.same(w.since(mark), ['stop:t1', 'stopped:t1', 'stop:t2', 'stopped:t2'], 'no restart, no group restart');

  mark = w.log.length;
  w.current('a').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'a'));
  t.same(
    w.since(mark),
    ['stop:t3', 'stopped:t3', 'stop:a', 'stopped:a', 'start:a', 'ready:a'],
    'temporary t3 stopped with the group and not started again',
  );
  t.same(states(sup), ['a:running:1', 't1:stopped:0', 't2:stopped:0', 't3:stopped:0']);
  t.equal(w.incarnations('t1') + w.incarnations('t2') + w.incarnations('t3'), 3);
  await sup.stop();
});

t.test('one_for_all restarts a transient sibling that had exited normally (as OTP does)', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({ strategy: 'one_for_all', children: [w.spec('a', { restart: 'transient' }), w.spec('b')] }),
  );
  await sup.start();
  w.current('a').ctx.exit();
  await w.until(is('child_stopped', 'a'));
  w.current('b').ctx.crash(new Error('boom'));
  await w.until(is('child_restarted', 'b'));
  t.same(states(sup), ['a:running:1', 'b:running:1']);
  await sup.stop();
});

t.test('a start() that rejects counts as a crash', async (t) => {
  t.test('while booting: retried, and the children after it still start', async (t) => {
    const w = new World();
    const sup = new Supervisor(
      w.options({
        children: [
          w.spec('a'),
          w.spec('b', { failStart: (n) => (n === 1 ? new Error('port busy') : undefined) }),
          w.spec('c'),
        ],
      }),
    );
    await sup.start();
    t.same(w.log, ['start:a', 'ready:a', 'start:b', 'failed:b', 'start:b', 'ready:b', 'start:c', 'ready:c']);
    t.match(w.events.find(is('child_crashed', 'b')), { during: 'start', error: { message: 'port busy' } });
    t.same(states(sup), ['a:running:0', 'b:running:0', 'c:running:0']);
    await sup.stop();
  });

  t.test('while booting, past the intensity: start() rejects and the root gives up', async (t) => {
    const w = new World();
    const sup = new Supervisor(
      w.options({
        maxRestarts: 2,
        children: [w.spec('a'), w.spec('b', { failStart: () => new Error('no') }), w.spec('c')],
      }),
    );
    const gaveUp = sup.gaveUp;
    await t.rejects(sup.start(), GaveUpError);
    t.ok((await gaveUp) instanceof GaveUpError);
    t.same(w.log, [
      'start:a',
      'ready:a',
      'start:b',
      'failed:b',
      'start:b',
      'failed:b',
      'start:b',
      'failed:b',
      'stop:a',
      'stopped:a',
    ]);
    t.equal(w.incarnations('c'), 0);
  });

  t.test('during a restart: counted, and tried again', async (t) => {
    const w = new World();
    const sup = new Supervisor(
      w.options({
        strategy: 'rest_for_one',
        children: [
          w.spec('a'),
          w.spec('b', { failStart: (n) => (n === 2 ? new Error('flaky') : undefined) }),
          w.spec('c'),
        ],
      }),
    );
    await sup.start();
    const mark = w.log.length;
    w.current('b').ctx.crash(new Error('boom'));
    await w.until(is('child_restarted', 'c'));
    t.same(w.since(mark), [
      'stop:c',
      'stopped:c',
      'stop:b',
      'stopped:b',
      'start:b',
      'failed:b',
      'start:b',
      'ready:b',
      'start:c',
      'ready:c',
    ]);
    t.same(
      w.events.filter(is('child_crashed', 'b')).map((e) => 'during' in e && e.during),
      ['run', 'start'],
    );
    t.same(states(sup), ['a:running:0', 'b:running:1', 'c:running:1']);
    await sup.stop();
  });

  t.test('a temporary child whose start rejects is dropped and the rest start', async (t) => {
    const w = new World();
    const sup = new Supervisor(
      w.options({ children: [w.spec('a', { restart: 'temporary', failStart: () => new Error('no') }), w.spec('b')] }),
    );
    await sup.start();
    t.same(states(sup), ['a:stopped:0', 'b:running:0']);
    t.equal(w.log.filter((l) => l === 'start:a').length, 1);
    await sup.stop();
  });

  t.test('a start() that throws synchronously or resolves to no handle', async (t) => {
    const w = new World();
    let attempts = 0;
    const odd: ChildSpec = {
      id: 'odd',
      restart: 'permanent',
      shutdownMs: 100,
      start(): Promise<Child> {
        attempts++;
        if (attempts === 1) throw new Error('sync throw');
        if (attempts === 2) return Promise.resolve(undefined as unknown as Child);
        return Promise.resolve({ stop: async () => undefined });
      },
    };
    const sup = new Supervisor(w.options({ children: [odd] }));
    await sup.start();
    t.same(
      w.events.filter(is('child_crashed')).map((e) => ('error' in e ? e.error.message : '')),
      ['sync throw', 'start() of child odd did not resolve to an object with stop()'],
    );
    t.same(states(sup), ['odd:running:0']);
    await sup.stop();
  });
});

t.test('crashes arriving together are handled one at a time', async (t) => {
  t.test('one_for_one: both restarted once, never overlapping', async (t) => {
    const w = new World();
    const sup = new Supervisor(
      w.options({ children: ['a', 'b', 'c'].map((id) => w.spec(id, { startDelayMs: 5, stopDelayMs: 5 })) }),
    );
    await sup.start();
    w.current('a').ctx.crash(new Error('a'));
    w.current('c').ctx.crash(new Error('c'));
    await w.until(is('child_restarted', 'a'));
    await w.until(is('child_restarted', 'c'));
    t.same(states(sup), ['a:running:1', 'b:running:0', 'c:running:1']);
    t.equal(w.overlaps, 0);
    await sup.stop();
  });

  t.test('one_for_all: the second crash belongs to an incarnation the first restart already replaced', async (t) => {
    const w = new World();
    const sup = new Supervisor(
      w.options({
        strategy: 'one_for_all',
        maxRestarts: 1,
        children: ['a', 'b', 'c'].map((id) => w.spec(id, { startDelayMs: 5, stopDelayMs: 5 })),
      }),
    );
    await sup.start();
    w.current('a').ctx.crash(new Error('a'));
    w.current('c').ctx.crash(new Error('c'));
    await w.until(is('child_restarted', 'c'));
    await delay(30); // let any wrongly accepted second report show itself
    t.same(states(sup), ['a:running:1', 'b:running:1', 'c:running:1'], 'one group restart, within maxRestarts 1');
    t.equal(w.count(is('gave_up')), 0);
    t.equal(w.overlaps, 0);
    await sup.stop();
  });
});

t.test('stop() during a start withdraws it through ctx.signal', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({ children: [w.spec('a'), w.spec('b', { startUntilAborted: true }), w.spec('c')] }),
  );
  const starting = sup.start();
  starting.catch(() => undefined);
  while (!w.log.includes('start:b')) await delay(1);
  await sup.stop();
  await t.rejects(starting, /stopped before all its children started/);
  t.same(w.log, ['start:a', 'ready:a', 'start:b', 'stop:a', 'stopped:a']);
  t.equal(w.count(is('child_crashed')), 0, 'a withdrawn start is not a crash');
  t.equal(w.count(is('gave_up')), 0);
});

t.test('a start that finishes after it was withdrawn is stopped at once', async (t) => {
  const w = new World();
  const sup = new Supervisor(w.options({ children: [w.spec('a', { startDelayMs: 30 })] }));
  const starting = sup.start();
  starting.catch(() => undefined);
  while (!w.log.includes('start:a')) await delay(1);
  await sup.stop();
  t.same(w.log, ['start:a', 'ready:a', 'stop:a', 'stopped:a']);
  t.same(states(sup), ['a:stopped:0']);
});

t.test('a parent kills a nested supervisor that does not stop in time', async (t) => {
  const w = new World();
  const sup = new Supervisor(
    w.options({
      children: [
        w.spec('x'),
        supervisorChild('inner', {
          shutdownMs: 40,
          children: [w.spec('p'), w.spec('q', { shutdownMs: Infinity, hangStop: () => true })],
        }),
      ],
    }),
  );
  await sup.start();
  await sup.stop();
  t.same(
    w.log.slice(-5),
    ['stop:q', 'kill:q', 'kill:p', 'stop:x', 'stopped:x'],
    'kill reaches every running grandchild, then the parent carries on',
  );
  t.match(w.events.find(is('child_killed', 'inner')), { supervisor: 'root', afterMs: 40 });
  t.ok(w.current('p').killed);
});

t.test('nothing leaks: no unhandled rejection, no console output, a throwing onEvent is harmless', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const printed: unknown[][] = [];
  const original = { log: console.log, error: console.error, warn: console.warn, info: console.info };
  for (const k of ['log', 'error', 'warn', 'info'] as const)
    console[k] = (...args: unknown[]) => void printed.push(args);
  try {
    const w = new World();
    const sup = new Supervisor({
      ...w.options({
        maxRestarts: 1,
        children: [
          w.spec('a', { failStop: true, killThrows: true }),
          w.spec('b', { failStart: (n) => (n === 2 ? new Error('no') : undefined) }),
        ],
      }),
      onEvent: (e) => {
        w.onEvent(e);
        throw new Error('observer bug');
      },
    });
    await sup.start();
    const a = w.current('a');
    a.ctx.crash('not an Error');
    a.ctx.crash(new Error('twice'));
    a.ctx.exit();
    await w.until(is('child_restarted', 'a'));
    t.match(w.events.find(is('child_crashed', 'a')), { error: { message: 'not an Error' } });
    w.current('b').ctx.crash(new Error('b'));
    await sup.gaveUp;
    a.ctx.crash(new Error('after the end'));
    await delay(20);
    await sup.stop();
  } finally {
    Object.assign(console, original);
    process.off('unhandledRejection', onUnhandled);
  }
  t.same(unhandled, []);
  t.same(printed, []);
});

t.test('rejects bad specs up front', async (t) => {
  const w = new World();
  t.throws(() => new Supervisor({ children: [w.spec('a'), w.spec('a')] }), /duplicate child id a/);
  t.throws(() => new Supervisor({ children: [{ ...w.spec('a'), shutdownMs: -1 }] }), /shutdownMs/);
  t.throws(
    () => new Supervisor({ children: [{ ...w.spec('a'), restart: 'sometimes' as RestartType }] }),
    /restart type/,
  );
  t.throws(() => new Supervisor({ strategy: 'all_for_one' as 'one_for_all', children: [] }), /strategy/);
  t.throws(() => new Supervisor({ maxRestarts: -1, children: [] }), /maxRestarts/);
});

t.test('a supervisor stopped before it started', async (t) => {
  const sup = new Supervisor({ children: [] });
  await sup.stop();
  await t.rejects(sup.start(), /stopped before it started/);
  const empty = new Supervisor({ children: [] });
  await empty.start();
  t.same(empty.status(), []);
  await empty.stop();
});

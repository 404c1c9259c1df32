import t from 'tap';
import { dispatch, newActorSystem, spawnSerial, stop } from './actors.js';

t.test('handles one message at a time, in order, awaiting each', async (t) => {
  const system = newActorSystem();
  const trace: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const ref = spawnSerial<number>(
    system,
    'serial',
    async (n) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      trace.push(`begin ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 3 - n));
      trace.push(`end ${n}`);
      inFlight--;
      if (n === 2) done();
    },
    () => undefined,
  );
  for (const n of [0, 1, 2]) dispatch(ref, n);
  await finished;
  t.same(trace, ['begin 0', 'end 0', 'begin 1', 'end 1', 'begin 2', 'end 2']);
  t.equal(maxInFlight, 1);
  stop(system);
});

t.test('a fault goes to onFault, nact prints nothing, and the actor keeps going', async (t) => {
  const printed: unknown[][] = [];
  const original = { log: console.log, error: console.error, warn: console.warn };
  for (const k of ['log', 'error', 'warn'] as const) console[k] = (...args: unknown[]) => void printed.push(args);
  const system = newActorSystem();
  try {
    const faults: unknown[] = [];
    const handled: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const ref = spawnSerial<string>(
      system,
      'odd name/with spaces',
      async (msg) => {
        if (msg === 'bad') throw new Error('handler bug');
        handled.push(msg);
        if (msg === 'last') done();
      },
      (err) => {
        faults.push(err);
        throw new Error('even the fault handler throws');
      },
    );
    dispatch(ref, 'first');
    dispatch(ref, 'bad');
    dispatch(ref, 'last');
    await finished;
    t.same(handled, ['first', 'last']);
    t.match(faults, [{ message: 'handler bug' }]);
  } finally {
    Object.assign(console, original);
    stop(system);
  }
  t.same(printed, []);
});

t.test('dispatch to a stopped actor is a silent no-op', async (t) => {
  const system = newActorSystem();
  const seen: string[] = [];
  const ref = spawnSerial<string>(
    system,
    'gone',
    async (m) => void seen.push(m),
    () => undefined,
  );
  stop(ref);
  t.doesNotThrow(() => dispatch(ref, 'late'));
  stop(system);
  t.doesNotThrow(() => dispatch(ref, 'later'));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(seen, []);
});

// stopWithin and forceKill on their own: the bounded stop every supervisor relies on, and
// asError, which turns whatever a component throws into the Error its events carry.
import t from 'tap';
import { forceKill, stopWithin } from './shutdown.js';
import { GaveUpError, asError } from './errors.js';
import type { Child } from './types.js';

const never = () => new Promise<void>(() => undefined);

t.test('a stop that settles in time is stopped, and kill() is not called', async (t) => {
  let kills = 0;
  const outcome = await stopWithin({ stop: async () => undefined, kill: () => void kills++ }, 1000);
  t.same(outcome, { kind: 'stopped' });
  t.equal(kills, 0);
});

t.test('a stop that hangs past shutdownMs is killed once, and the outcome names the limit', async (t) => {
  let kills = 0;
  const started = Date.now();
  const outcome = await stopWithin({ stop: never, kill: () => void kills++ }, 30);
  t.same(outcome, { kind: 'killed', afterMs: 30 });
  t.equal(kills, 1);
  t.ok(Date.now() - started >= 25, 'waited for the limit before killing');
});

t.test('shutdownMs 0 kills at once when stop does not settle in the same turn', async (t) => {
  let kills = 0;
  t.same(await stopWithin({ stop: never, kill: () => void kills++ }, 0), { kind: 'killed', afterMs: 0 });
  t.equal(kills, 1);
});

t.test('Infinity waits for stop however long it takes, and never kills', async (t) => {
  let kills = 0;
  const outcome = await stopWithin(
    { stop: () => new Promise<void>((resolve) => setTimeout(resolve, 40)), kill: () => void kills++ },
    Infinity,
  );
  t.same(outcome, { kind: 'stopped' });
  t.equal(kills, 0);
});

t.test('a stop that rejects or throws synchronously is a failed stop, followed by kill()', async (t) => {
  for (const stop of [
    async () => Promise.reject(new Error('port still bound')),
    () => {
      throw new Error('port still bound');
    },
  ]) {
    let kills = 0;
    const outcome = await stopWithin({ stop, kill: () => void kills++ } as Child, 1000);
    t.equal(outcome.kind, 'failed');
    t.equal(outcome.kind === 'failed' && outcome.error.message, 'port still bound');
    t.equal(kills, 1);
  }
});

t.test('forceKill: kill() when there is one, else a stop() nobody waits for', async (t) => {
  const calls: string[] = [];
  forceKill({ stop: async () => void calls.push('stop'), kill: () => void calls.push('kill') });
  t.same(calls, ['kill'], 'kill only, synchronously');
  forceKill({ stop: async () => void calls.push('stop-only') });
  t.same(calls, ['kill'], 'the stop is not called in the same turn');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(calls, ['kill', 'stop-only']);
});

t.test('forceKill swallows a kill that throws and a stop that rejects', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  t.doesNotThrow(() =>
    forceKill({
      stop: async () => undefined,
      kill: () => {
        throw new Error('kill failed');
      },
    }),
  );
  forceKill({ stop: () => Promise.reject(new Error('stop failed')) });
  await new Promise((resolve) => setTimeout(resolve, 10));
  t.same(unhandled, []);
});

t.test('asError keeps Errors, wraps strings as they are and anything else as JSON', async (t) => {
  const err = new Error('x');
  t.equal(asError(err), err);
  t.equal(asError('plain words').message, 'plain words');
  t.equal(asError({ code: 7 }).message, 'non-Error thrown: {"code":7}');
  t.equal(asError(undefined).message, 'non-Error thrown: undefined', 'JSON.stringify gives undefined: String()');
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  t.equal(asError(circular).message, 'non-Error thrown: [object Object]', 'JSON.stringify throws: String()');
});

t.test('GaveUpError names itself and its supervisor and keeps its cause', async (t) => {
  const cause = new Error('child crashed');
  const e = new GaveUpError('weft/net', 'gave up', { cause });
  t.equal(e.name, 'GaveUpError');
  t.equal(e.supervisor, 'weft/net');
  t.equal(e.message, 'gave up');
  t.equal(e.cause, cause);
  t.ok(e instanceof Error);
});

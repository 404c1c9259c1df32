// Supervisor edges found by mutation testing (npm run mutation -- supervisors): the parent's
// abort signal reaching a nested supervisor, names, stop before start. supervisor.test.ts
// holds the main behaviour; this file keeps its own small harness so that adding a case here
// leaves that file, and Stryker's incremental results for it, untouched.
import t from 'tap';
import { eventually } from '../test/helpers/eventually.js';
import { Supervisor, supervisorChild, type ChildContext, type ChildSpec, type SupervisorEvent } from './index.js';

/** Settles with `promise`, or rejects with `label` after a generous deadline. */
async function within<T>(promise: Promise<T>, label: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Children that log start/ready/stop, and the supervisor events, in one place. */
function recorder() {
  const log: string[] = [];
  const events: SupervisorEvent[] = [];
  const child = (id: string, opts: { untilAborted?: boolean } = {}): ChildSpec => ({
    id,
    restart: 'permanent',
    shutdownMs: 1000,
    async start(ctx) {
      log.push(`start:${id}`);
      if (opts.untilAborted) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        throw new Error(`start of ${id} aborted`);
      }
      log.push(`ready:${id}`);
      return { stop: async () => void log.push(`stop:${id}`) };
    },
  });
  const crashes = () => events.filter((e) => e.type === 'child_crashed').length;
  return { log, events, child, crashes, onEvent: (e: SupervisorEvent) => void events.push(e) };
}

const contextOf = (signal: AbortSignal): ChildContext => ({
  id: 'inner',
  supervisor: 'root',
  signal,
  crash: () => undefined,
  exit: () => undefined,
});

const states = (sup: Supervisor) => sup.status().map((s) => `${s.id}:${s.state}`);

t.test('a nested supervisor whose parent has already withdrawn it never starts a child', async (t) => {
  const r = recorder();
  const sup = new Supervisor({ onEvent: r.onEvent, children: [r.child('a')] }, contextOf(AbortSignal.abort()));
  t.equal(sup.name, 'root/inner', 'named after its parent and its child id');
  await within(t.rejects(sup.start(), /stopped before it started/), 'start');
  await within(sup.stop(), 'stop');
  t.same(r.log, []);
});

t.test('a nested supervisor stops when its parent withdraws it later', async (t) => {
  const r = recorder();
  const parent = new AbortController();
  const sup = new Supervisor(
    { name: 'net', onEvent: r.onEvent, children: [r.child('a'), r.child('b')] },
    contextOf(parent.signal),
  );
  t.equal(sup.name, 'root/net', 'its own name under the parent path');
  await sup.start();
  parent.abort();
  await eventually('the abort stopping the children', () => r.log.includes('stop:a'), 10_000, 2);
  t.same(r.log, ['start:a', 'ready:a', 'start:b', 'ready:b', 'stop:b', 'stop:a']);
  t.same(states(sup), ['a:stopped', 'b:stopped']);
  await within(sup.stop(), 'stop after the abort');
});

t.test('a parent stopping while a nested supervisor is still starting withdraws the grandchild start', async (t) => {
  const r = recorder();
  const sup = new Supervisor({
    onEvent: r.onEvent,
    children: [
      r.child('x'),
      supervisorChild('inner', { children: [r.child('p'), r.child('q', { untilAborted: true })] }),
    ],
  });
  const starting = sup.start();
  starting.catch(() => undefined);
  await eventually('q starting', () => r.log.includes('start:q'), 10_000, 2);
  await within(sup.stop(), 'the parent stop');
  await t.rejects(starting, /stopped before all its children started/);
  t.same(r.log, ['start:x', 'ready:x', 'start:p', 'ready:p', 'start:q', 'stop:p', 'stop:x']);
  t.equal(r.crashes(), 0, 'a withdrawn start is no crash, at either level');
});

t.test('the root is named by its options, else root', async (t) => {
  const named = new Supervisor({ name: 'weft', children: [] });
  const plain = new Supervisor({ children: [] });
  t.equal(named.name, 'weft');
  t.equal(plain.name, 'root');
  await Promise.all([named.stop(), plain.stop()]);
});

t.test('bad specs and limits are refused up front, each with its own message', async (t) => {
  const r = recorder();
  const ok = r.child('a');
  const bad: [string, unknown, RegExp][] = [
    ['children not an array', { children: 'a' }, /^children must be an array of child specs$/],
    ['a missing spec', { children: [null] }, /^every child spec needs a non-empty string id$/],
    ['an id that is not a string', { children: [{ ...ok, id: 7 }] }, /^every child spec needs a non-empty string id$/],
    ['an empty id', { children: [{ ...ok, id: '' }] }, /^every child spec needs a non-empty string id$/],
    ['no start function', { children: [{ ...ok, start: 'go' }] }, /^child a: start must be a function$/],
    [
      'shutdownMs not a number',
      { children: [{ ...ok, shutdownMs: '5' }] },
      /^child a: shutdownMs must be a number >= 0/,
    ],
    ['shutdownMs NaN', { children: [{ ...ok, shutdownMs: Number.NaN }] }, /^child a: shutdownMs must be a number >= 0/],
    ['periodMs 0', { periodMs: 0, children: [] }, /^periodMs must be > 0, got 0$/],
  ];
  for (const [what, options, message] of bad) {
    t.throws(() => new Supervisor(options as never), { name: 'TypeError', message }, what);
  }
  const zero = new Supervisor({ children: [{ ...ok, shutdownMs: 0 }] });
  t.same(states(zero), ['a:stopped'], 'shutdownMs 0 is allowed');
  await zero.stop();
});

t.test('kill(): every running child killed in reverse order at once, start rejects, stop returns', async (t) => {
  const killed: string[] = [];
  const child = (id: string): ChildSpec => ({
    id,
    restart: 'permanent',
    shutdownMs: 1000,
    start: async () => ({ stop: async () => undefined, kill: () => void killed.push(id) }),
  });
  const sup = new Supervisor({ name: 'k', children: [child('a'), child('b'), child('c')] });
  const starting = sup.start();
  await starting;
  sup.kill();
  t.same(killed, ['c', 'b', 'a']);
  t.same(states(sup), ['a:stopped', 'b:stopped', 'c:stopped']);
  await within(sup.stop(), 'stop after kill');
  sup.kill();
  t.same(killed, ['c', 'b', 'a'], 'a second kill does nothing');

  const early = new Supervisor({ name: 'early', children: [child('x')] });
  early.kill();
  await t.rejects(within(early.start(), 'start after kill'), /supervisor early was (killed|stopped before it started)/);
  const booting = new Supervisor({ name: 'boot', children: [child('y')] });
  const pending = booting.start();
  booting.kill();
  await t.rejects(within(pending, 'start killed while booting'), /^supervisor boot was killed$/);
});

t.test('a start that resolves to null or to a function is a crash during start', async (t) => {
  const r = recorder();
  let attempts = 0;
  const odd: ChildSpec = {
    id: 'odd',
    restart: 'permanent',
    shutdownMs: 100,
    start: async () => {
      attempts++;
      if (attempts === 1) return null as never;
      if (attempts === 2) return Object.assign(() => undefined, { stop: async () => undefined }) as never;
      return { stop: async () => undefined };
    },
  };
  const sup = new Supervisor({ onEvent: r.onEvent, maxRestarts: 5, children: [odd] });
  await within(sup.start(), 'start');
  const messages = r.events.flatMap((e) => (e.type === 'child_crashed' ? [e.error.message] : []));
  t.same(messages, [
    'start() of child odd did not resolve to an object with stop()',
    'start() of child odd did not resolve to an object with stop()',
  ]);
  await sup.stop();
});

t.test('a grandchild whose stop hangs is killed once, by the subtree kill or by its own limit, not both', async (t) => {
  const r = recorder();
  let kills = 0;
  const hanging: ChildSpec = {
    id: 'q',
    restart: 'permanent',
    shutdownMs: 150,
    start: async () => ({ stop: () => new Promise<void>(() => undefined), kill: () => void kills++ }),
  };
  const sup = new Supervisor({
    onEvent: r.onEvent,
    children: [supervisorChild('inner', { shutdownMs: 20, children: [hanging] })],
  });
  await sup.start();
  await within(sup.stop(), 'stop');
  t.equal(kills, 1, 'killed with the subtree');
  // q's own 150 ms limit still runs out later and reports; it must not kill again.
  await eventually(
    'q reported killed',
    () => r.events.some((e) => e.type === 'child_killed' && e.id === 'q'),
    10_000,
    2,
  );
  t.equal(kills, 1, 'and not again when its own limit ran out');
});

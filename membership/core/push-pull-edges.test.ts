// Push/pull, healing and reaping at their edges, from the survivors of
// `npm run mutation -- membership/core:swim4` (issue 18): whom periodic and healing
// push/pulls go to and when they stop, reaping to the millisecond, how a peer's state is
// merged (bad entries, implausible incarnations, what gossip it starts), and how our own
// entries follow the members they describe.
import t from 'tap';
import { MAX_INCARNATION, type PushNodeState, type PushPull } from '../messages.js';
import type { SwimConfig } from './config.js';
import type { Output } from './outputs.js';
import type { SwimCore } from './swim.js';
import {
  addrOf,
  alive,
  dead,
  endpointOf,
  events,
  isTo,
  makeCore,
  runTimers,
  streams,
  suspect,
  withPeers,
} from './test-harness.js';

function pushPulls(out: readonly Output[]) {
  return streams(out).filter((s) => s.msg.t === 'push-pull');
}

function entry(
  name: string,
  incarnation: number,
  state: PushNodeState['state'],
  meta = new Uint8Array(),
): PushNodeState {
  return { node: addrOf(name), incarnation, state, meta };
}

function push(states: unknown): PushPull {
  return { t: 'push-pull', join: false, states } as PushPull;
}

/** Our reply to an empty push from `from`: our full state as a peer gets it. */
function reply(core: SwimCore, now: number, from = 'p'): PushPull {
  const r = core.receiveStream(now, endpointOf(from), push([]));
  core.takeOutputs();
  if (!r) throw new Error('no reply');
  return r;
}

function stateOf(pp: PushPull, name: string): PushNodeState | undefined {
  return pp.states.find((s) => s.node.name === name);
}

// ------------------------------------------------------------------ periodic push/pull

const PP: Partial<SwimConfig> = { pushPullIntervalMs: 1_000, healIntervalMs: 0 };

t.test('periodic push/pulls go to alive members only, are not joins, and stop when we leave', async (t) => {
  const core = makeCore('self', { config: PP });
  withPeers(core, ['b', 'c', 'd', 'e']);
  core.receive(1, endpointOf('b'), [suspect('c', 1, 'b'), dead('d', 1, 'b'), dead('e', 1, 'e')]);
  core.takeOutputs();
  const before = pushPulls(runTimers(core, 20_000, new Set(['c', 'd', 'e'])));
  t.ok(before.length >= 15, `one per interval (${before.length})`);
  t.ok(
    before.every((s) => isTo(s, 'b')),
    'all to b, the one alive member',
  );
  t.ok(
    before.every((s) => s.msg.t === 'push-pull' && s.msg.join === false),
    'none marked as a join',
  );
  const count = core.stats().pushPulls;
  core.leave(20_000);
  t.same(pushPulls([...core.takeOutputs(), ...runTimers(core, 40_000)]), [], 'none after leaving');
  t.equal(core.stats().pushPulls, count);
});

/** When a core with `peers` alive members sends its first push/pull (ms), nobody answering. */
function firstPushPull(seed: number, peers: number): number | undefined {
  const core = makeCore('self', { config: PP, seed });
  withPeers(
    core,
    Array.from({ length: peers }, (_, i) => `peer-${i}`),
  );
  for (let d = core.nextDeadline(); d <= 10_000; d = core.nextDeadline()) {
    core.tick(d);
    if (pushPulls(core.takeOutputs()).length > 0) return d;
  }
  return undefined;
}

t.test("the first push/pull falls at the node's phase of the interval scaled to the cluster it found", async (t) => {
  // pushPullScale(1 s, n): 1 s up to 32 members, 3 s at 100 (65-128). The phase is drawn once
  // at the start, so a node's first sync in the big cluster comes three times as late.
  let afterUnscaled = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const small = firstPushPull(seed, 5);
    const big = firstPushPull(seed, 99);
    if (small === undefined || big === undefined) {
      t.fail(`seed ${seed}: no push/pull within 10 s`);
      continue;
    }
    t.ok(small < 1_000, `seed ${seed}: within the unscaled interval in a small cluster (${small} ms)`);
    t.ok(big < 3_000, `seed ${seed}: within the scaled interval in a big one (${big} ms)`);
    t.ok(Math.abs(big - 3 * small) <= 3, `seed ${seed}: at the same phase (${small} -> ${big} ms)`);
    if (big >= 1_000) afterUnscaled++;
  }
  t.ok(afterUnscaled >= 10, `${afterUnscaled} of 30 first syncs after the unscaled interval`);
});

// ------------------------------------------------------------------ healing and reaping

t.test('with healing off, maintenance still reaps, every 10 s, and never heals', async (t) => {
  const core = makeCore('self', { config: { pushPullIntervalMs: 0, healIntervalMs: 0, reapAfterMs: 25_000 } });
  withPeers(core, ['b', 'c']);
  core.join(0, [endpointOf('seed')]);
  core.receive(1, endpointOf('c'), dead('b', 1, 'c'));
  core.takeOutputs();
  const out = runTimers(core, 60_000);
  t.same(pushPulls(out), [], 'no healing push/pull to the dead or the seed');
  t.equal(core.stats().healAttempts, 0);
  t.same(
    events(out).map((e) => [e.type, e.member.name]),
    [['reap', 'b']],
  );
  t.equal(core.member('b'), undefined);
});

const HEAL: Partial<SwimConfig> = { pushPullIntervalMs: 0, healIntervalMs: 1_000 };

t.test('healing: a seed that is a live member is no candidate, one that left is', async (t) => {
  const core = makeCore('self', { config: HEAL });
  withPeers(core, ['b', 'l']);
  core.join(0, [endpointOf('b')]);
  core.takeOutputs();
  t.same(pushPulls(runTimers(core, 20_000)), [], 'the only seed is alive: nothing to heal');
  t.equal(core.stats().healAttempts, 0);

  core.receive(20_000, endpointOf('l'), dead('l', 1, 'l'));
  core.join(20_000, [endpointOf('l')]);
  core.takeOutputs();
  const heal = pushPulls(runTimers(core, 40_000));
  // One candidate for one live peer: tried every interval.
  t.ok(heal.length >= 19, `the seed that left is tried (${heal.length})`);
  t.ok(
    heal.every((s) => isTo(s, 'l') && s.msg.t === 'push-pull' && s.msg.join === false),
    'to it, not as a join',
  );
  t.equal(core.stats().healAttempts, heal.length);
});

t.test('no healing once we leave', async (t) => {
  const core = makeCore('self', { config: HEAL });
  withPeers(core, ['b', 'c']);
  core.receive(1, endpointOf('c'), dead('b', 1, 'c'));
  core.takeOutputs();
  t.ok(pushPulls(runTimers(core, 10_000)).length > 0, 'the dead member is tried while we run');
  core.leave(10_000);
  core.takeOutputs();
  const healed = core.stats().healAttempts;
  t.same(pushPulls(runTimers(core, 30_000)), []);
  t.equal(core.stats().healAttempts, healed);
});

t.test('we never reap ourselves after leaving', async (t) => {
  const core = makeCore('self', { config: { ...HEAL, reapAfterMs: 100 } });
  withPeers(core, ['b']);
  core.leave(1);
  core.takeOutputs();
  const out = runTimers(core, 30_000);
  t.same(
    events(out).filter((e) => e.type === 'reap'),
    [],
  );
  t.equal(core.localMember().state, 'left');
  t.ok(core.members().some((m) => m.name === 'self'));
});

t.test('a dead member is reaped at exactly reapAfter after its death', async (t) => {
  const core = makeCore('self', { config: { pushPullIntervalMs: 0, healIntervalMs: 1, reapAfterMs: 50 } });
  withPeers(core, ['b', 'c']);
  runTimers(core, 100);
  core.receive(100, endpointOf('c'), dead('b', 1, 'c'));
  core.takeOutputs();
  let reapedAt: number | undefined;
  for (let now = 101; now <= 160 && reapedAt === undefined; now++) {
    core.tick(now);
    if (events(core.takeOutputs()).some((e) => e.type === 'reap' && e.member.name === 'b')) reapedAt = now;
  }
  t.equal(reapedAt, 150);
});

// ------------------------------------------------------------------ merging a peer's state

t.test('a push whose states are not a list is refused, counted, and not answered', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b']);
  t.equal(core.receiveStream(1, endpointOf('b'), push(5)), undefined);
  t.equal(core.receiveStream(1, endpointOf('b'), push(undefined)), undefined);
  t.equal(core.stats().rejectedMessages, 2);
  core.receiveStreamReply(2, endpointOf('b'), push({ length: 1 }));
  t.equal(core.stats().rejectedMessages, 3);
});

t.test('an entry that throws when read is counted; the push is still answered', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b']);
  const hostile = {
    get node(): never {
      throw new Error('boom');
    },
  };
  const r = core.receiveStream(1, endpointOf('b'), push([hostile]));
  t.ok(r, 'answered');
  t.equal(core.stats().rejectedMessages, 1);
});

t.test('bad entries are skipped one by one: the good ones after them are merged', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b']);
  core.receiveStream(1, endpointOf('b'), push([5, { node: 'x' }, entry('c', 1, 'alive')]));
  t.equal(core.stats().rejectedMessages, 2);
  t.equal(core.member('c')?.state, 'alive');
});

t.test('implausible entries are skipped: alives may jump ahead, accusations may not', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b', 'c']);
  core.receiveStream(
    1,
    endpointOf('b'),
    push([
      entry('b', 40, 'alive'),
      entry('c', 40, 'suspect'),
      entry('d', 10 * MAX_INCARNATION, 'alive'),
      entry('e', 24 * 3600 + 10, 'alive'),
    ]),
  );
  t.equal(core.member('b')?.incarnation, 40, 'an alive 39 ahead is taken');
  t.same([core.member('c')?.state, core.member('c')?.incarnation], ['alive', 1], 'a suspicion 39 ahead is not');
  t.equal(core.member('d'), undefined);
  t.equal(core.member('e'), undefined, 'an incarnation past the clock lead is not taken');
  t.equal(core.stats().implausibleIncarnations, 2);
});

t.test('a suspect entry of a member we know raises the suspicion and takes nothing else', async (t) => {
  const core = makeCore('self');
  core.receive(0, endpointOf('b'), alive('b', 1, Uint8Array.of(1)));
  withPeers(core, ['c']);
  core.receiveStream(1, endpointOf('c'), push([entry('b', 2, 'suspect', Uint8Array.of(2))]));
  const b = core.member('b');
  t.same([b?.state, b?.incarnation, [...(b?.meta ?? [])]], ['suspect', 2, [1]]);
});

t.test('what a merge passes on is a well-formed suspect, or the dead of a leave', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b', 'c', 'd', 'e']);
  core.receiveStream(
    1,
    endpointOf('e'),
    push([entry('b', 1, 'suspect'), entry('c', 1, 'dead'), entry('d', 1, 'left')]),
  );
  t.same(core.peekBroadcast('b'), { t: 'suspect', incarnation: 1, node: 'b', from: 'self' });
  t.same(core.peekBroadcast('c'), { t: 'suspect', incarnation: 1, node: 'c', from: 'self' });
  t.same(core.peekBroadcast('d'), { t: 'dead', incarnation: 1, node: 'd', from: 'd' });
});

t.test('an alive learnt from an entry is passed on with a signature only beside a certificate', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b']);
  const sig = new Uint8Array(64).fill(1);
  core.receiveStream(1, endpointOf('b'), push([{ ...entry('d', 1, 'alive'), sig }]));
  t.same(Object.keys(core.peekBroadcast('d') ?? {}).sort(), ['incarnation', 'meta', 'node', 't']);
});

t.test('without identity, a push whose entries carry certificates is merged and answered', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['b']);
  const signedEntry = { ...entry('d', 1, 'alive'), sig: new Uint8Array(64), cert: Uint8Array.of(1, 2, 3) };
  let r: PushPull | undefined;
  t.doesNotThrow(() => {
    r = core.receiveStream(1, endpointOf('b'), push([signedEntry]));
  });
  t.ok(r && stateOf(r, 'd'), 'answered, with d');
});

// ------------------------------------------------------------------ our entries

t.test('our entries follow every change of the member, and stay the same while it has none', async (t) => {
  const core = makeCore('self');
  withPeers(core, ['c']);
  const meta = Uint8Array.of(9);
  core.receive(0, endpointOf('b'), alive('b', 1, meta));
  const first = reply(core, 1);
  const second = reply(core, 2);
  // Built afresh for each exchange (a cache per member cost N² in the simulator, issue 17).
  t.same(stateOf(second, 'b'), stateOf(first, 'b'), 'an equal entry');
  t.same(stateOf(second, 'self'), stateOf(first, 'self'));
  t.equal(stateOf(second, 'b')?.meta, meta, 'the metadata bytes themselves, not a copy');

  core.receive(3, endpointOf('b'), alive('b', 2, meta));
  t.equal(stateOf(reply(core, 3), 'b')?.incarnation, 2, 'a new incarnation');

  core.receive(4, endpointOf('c'), dead('b', 2, 'c'));
  core.receive(4, endpointOf('b'), alive('b', 2, meta, { ...addrOf('b'), addr: '10.9.9.9' }));
  const moved = stateOf(reply(core, 4), 'b');
  t.same([moved?.state, moved?.node.addr], ['alive', '10.9.9.9'], 'a new address at the same incarnation');

  core.receive(5, endpointOf('c'), dead('b', 2, 'c'));
  core.receive(
    5,
    { addr: '10.9.9.9', port: 8000 },
    alive('b', 2, meta, { ...addrOf('b'), addr: '10.9.9.9', port: 8000 }),
  );
  t.equal(stateOf(reply(core, 5), 'b')?.node.port, 8000, 'a new port');

  core.receive(6, endpointOf('c'), suspect('b', 2, 'c'));
  t.equal(stateOf(reply(core, 6), 'b')?.state, 'suspect', 'a new state');
});

t.test('at the last incarnation, new metadata still reaches our entry and our alive', async (t) => {
  const core = makeCore('self', { incarnation: MAX_INCARNATION, config: { incarnationLeadS: 0 } });
  withPeers(core, ['b']);
  reply(core, 1);
  core.updateMeta(2, Uint8Array.of(5));
  const mine = stateOf(reply(core, 3), 'self');
  t.same([mine?.incarnation, [...(mine?.meta ?? [])]], [MAX_INCARNATION, [5]]);
  const a = core.peekBroadcast('self');
  t.same(a?.t === 'alive' ? [...a.meta] : undefined, [5], 'the alive gossiped carries it too');
});

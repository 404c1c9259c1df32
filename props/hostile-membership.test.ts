// One hostile member among honest ones (issue 12): it holds the key, so everything it
// sends is delivered, and it sends random and adversarial SWIM traffic: valid messages
// about unknown nodes, garbage values where messages belong, alive/suspect/dead about
// honest nodes at their own incarnation, just above it, at the edge of the plausible
// lead, at the top of the valid range and beyond it, forged addresses and metadata,
// forged leaves, and push/pull streams full of the same. Properties:
//   - no honest node ever throws (the simulator runs the cores directly: an exception
//     would end the run and fail the property);
//   - once the hostile node stops, every honest node holds every other honest node alive,
//     at an incarnation within the valid range, within S(n) + 3 H + 10 s (the bound of
//     props/membership.test.ts) plus the spread of the nodes' clocks: a member whose clock
//     is behind cannot outbid news its peers accepted at the edge of their incarnation
//     window until its clock catches up (see plausible() in membership/core/swim.ts).
//
//   PROPS_RUNS, PROPS_SEED, PROPS_PATH, PROPS_TIME_LIMIT_MS as in props/membership.test.ts;
//   PROPS_HOSTILE_NODES  honest cluster size (default 8)

import fc from 'fast-check';
import t from 'tap';
import { PropertyMeter } from './report.js';
import { makeConfig } from '../membership/core/config.js';
import { suspicionTimeout } from '../membership/core/math.js';
import { MAX_INCARNATION, type Message, type PacketMessage, type PushNodeState } from '../membership/messages.js';
import { arbPacketMessage } from '../membership/wire-arbitraries.js';
import { GOSSIP_PORT, MembershipCluster, SimHost, skewFromSeed, type SimApp } from './sim/index.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 20);
const N = Number(process.env.PROPS_HOSTILE_NODES ?? 8);
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;
const TIME_LIMIT_MS = Number(process.env.PROPS_TIME_LIMIT_MS ?? 120_000);

const config = makeConfig('lan');
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
const EVIL = 'evil';
const EVIL_ADDR = '10.66.6.6';
const S = config.suspicionMaxTimeoutMult * suspicionTimeout(config.suspicionMult, N + 1, config.probeIntervalMs);
const H = config.healIntervalMs;
const CONVERGE_BOUND_MS = S + 3 * H + 10_000;
const WARMUP_MS = 3000;
const ATTACK_MS = 30_000;

t.comment(
  `hostile member among ${N} honest nodes, ${RUNS} runs, PROPS_SEED=${SEED}; convergence bound ${CONVERGE_BOUND_MS} ms`,
);

// ------------------------------------------------------------------ the hostile repertoire

/** Whom a message is about or claims to be from: an honest node, the hostile one, or a stranger. */
const whoArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: N - 1 }).map((i) => NAMES[i]!) },
  { weight: 1, arbitrary: fc.constant(EVIL) },
  { weight: 1, arbitrary: fc.constantFrom('stranger', 'x'.repeat(255)) },
);

/** An incarnation, relative to what the subject itself holds or to the receiver's clock. */
type IncSpec = { rel: 'own'; delta: number } | { rel: 'lead'; delta: number } | { rel: 'abs'; value: number };
const incArb: fc.Arbitrary<IncSpec> = fc.oneof(
  fc.record({ rel: fc.constant('own' as const), delta: fc.integer({ min: -1, max: 3 }) }),
  fc.record({ rel: fc.constant('lead' as const), delta: fc.integer({ min: -3, max: 3 }) }),
  fc.record({
    rel: fc.constant('abs' as const),
    value: fc.oneof(
      fc.constantFrom(
        0,
        1,
        MAX_INCARNATION - 1,
        MAX_INCARNATION,
        MAX_INCARNATION + 1,
        Number.MAX_SAFE_INTEGER,
        -1,
        1.5,
        NaN,
      ),
      fc.nat({ max: MAX_INCARNATION }),
    ),
  }),
);

type Forged =
  | { kind: 'alive'; about: string; inc: IncSpec; addrOf: string; meta: Uint8Array }
  | { kind: 'suspect' | 'dead'; about: string; inc: IncSpec; from: string }
  | { kind: 'valid'; msg: PacketMessage }
  | { kind: 'garbage'; value: unknown };

const forgedArb: fc.Arbitrary<Forged> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('alive' as const),
      about: whoArb,
      inc: incArb,
      addrOf: whoArb,
      meta: fc.uint8Array({ maxLength: 600 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom('suspect' as const, 'dead' as const),
      about: whoArb,
      inc: incArb,
      from: whoArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('valid' as const), msg: arbPacketMessage }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), value: fc.anything({ maxDepth: 2 }) }) },
);

interface Send {
  at: number;
  to: number;
  stream: boolean;
  msgs: Forged[];
}

const sendArb: fc.Arbitrary<Send> = fc.record({
  at: fc.integer({ min: 0, max: ATTACK_MS }),
  to: fc.integer({ min: 0, max: N - 1 }),
  stream: fc.boolean(),
  msgs: fc.array(forgedArb, { minLength: 1, maxLength: 6 }),
});

const attackArb = fc.array(sendArb, { minLength: 1, maxLength: 60 }).map((s) => [...s].sort((a, b) => a.at - b.at));

/** A member that answers nothing: it only speaks when the schedule says so. */
const MUTE: SimApp = {
  datagram() {},
  stream: () => undefined,
  streamReply() {},
  wake() {},
  nextDeadline: () => Infinity,
};

// ------------------------------------------------------------------ the property

t.test('a hostile member crashes no honest node and cannot keep the honest cluster from agreeing', async (t) => {
  const meter = new PropertyMeter();
  let worst = 0;
  let sent = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), attackArb, (seed, attack) => {
      const c = new MembershipCluster({ nodes: N, seed, config, skewMs: skewFromSeed(seed) });
      meter.run(c);
      const evil = new SimHost(EVIL, EVIL_ADDR, c.scheduler);
      c.network.attach(evil);
      evil.bind(GOSSIP_PORT, MUTE);
      const addrOf = (who: string) =>
        who === EVIL ? EVIL_ADDR : NAMES.includes(who) ? c.endpointOf(who).addr : '192.0.2.1';
      const incarnation = (spec: IncSpec, about: string, receiver: string): number => {
        if (spec.rel === 'abs') return spec.value;
        if (spec.rel === 'lead') return Math.floor(c.host(receiver).now / 1000) + config.incarnationLeadS + spec.delta;
        const own = NAMES.includes(about) ? (c.core(about)?.localMember().incarnation ?? 0) : 0;
        return Math.max(0, own + spec.delta);
      };
      const build = (f: Forged, receiver: string): unknown => {
        switch (f.kind) {
          case 'alive':
            return {
              t: 'alive',
              incarnation: incarnation(f.inc, f.about, receiver),
              node: { name: f.about, addr: addrOf(f.addrOf), port: GOSSIP_PORT },
              meta: f.meta,
            };
          case 'suspect':
          case 'dead':
            return { t: f.kind, incarnation: incarnation(f.inc, f.about, receiver), node: f.about, from: f.from };
          case 'valid':
            return f.msg;
          case 'garbage':
            return f.value;
        }
      };
      c.run(WARMUP_MS);
      // The hostile node joins as a member first, as a key holder can.
      for (const n of NAMES)
        c.network.sendDatagram(
          evil,
          GOSSIP_PORT,
          c.endpointOf(n),
          [
            {
              t: 'alive',
              incarnation: 1,
              node: { name: EVIL, addr: EVIL_ADDR, port: GOSSIP_PORT },
              meta: new Uint8Array(0),
            },
          ],
          40,
        );
      const start = c.now;
      for (const s of attack) {
        c.scheduler.at(start + s.at, () => {
          const to = NAMES[s.to]!;
          const msgs = s.msgs.map((f) => build(f, to));
          sent += msgs.length;
          if (s.stream) {
            const states = msgs.map((m) => {
              if (typeof m !== 'object' || m === null) return m as PushNodeState; // garbage where a state belongs
              const v = m as Partial<Message> & { node?: unknown; incarnation?: unknown; meta?: unknown };
              const name = typeof v.node === 'string' ? v.node : (v.node as { name?: unknown } | undefined)?.name;
              return {
                node: { name, addr: addrOf(String(name)), port: GOSSIP_PORT },
                incarnation: v.incarnation,
                state: v.t === 'dead' ? 'dead' : v.t === 'suspect' ? 'suspect' : 'alive',
                meta: v.meta ?? new Uint8Array(0),
              } as unknown as PushNodeState;
            });
            c.network.openStream(
              evil,
              GOSSIP_PORT,
              c.endpointOf(to),
              { t: 'push-pull', join: s.msgs.length % 2 === 0, states },
              100,
              () => 0,
            );
          } else {
            c.network.sendDatagram(evil, GOSSIP_PORT, c.endpointOf(to), msgs, 100);
          }
        });
      }
      c.runUntil(start + ATTACK_MS);
      // The hostile node falls silent (or is cut off); the honest nodes must heal.
      c.network.partition([NAMES, [EVIL]]);
      const stop = c.now;
      const agreed = () =>
        NAMES.every((o) => {
          const core = c.core(o)!;
          return NAMES.every((n) => {
            const m = n === o ? core.localMember() : core.member(n);
            return (
              m !== undefined &&
              m.state === 'alive' &&
              Number.isSafeInteger(m.incarnation) &&
              m.incarnation <= MAX_INCARNATION
            );
          });
        });
      // A member whose clock is behind its peers' cannot outbid news they accepted at the
      // edge of their window until its clock catches up (swim.ts, plausible()).
      const skews = NAMES.map((n) => c.host(n).now - c.now);
      const bound = CONVERGE_BOUND_MS + (Math.max(...skews) - Math.min(...skews));
      const done = c.runUntilTrue(agreed, bound, 250);
      if (done === undefined) {
        const views = NAMES.map(
          (o) =>
            `${o}: ${NAMES.filter((n) => n !== o)
              .map((n) => `${n}=${c.core(o)!.member(n)?.state ?? 'unknown'}@${c.core(o)!.member(n)?.incarnation}`)
              .join(' ')}`,
        );
        throw new Error(
          `cluster seed ${seed}: honest nodes disagree ${bound} ms after the attack ended\n${views.join('\n')}`,
        );
      }
      worst = Math.max(worst, done - stop);
      return true;
    }),
    {
      numRuns: RUNS,
      seed: SEED,
      interruptAfterTimeLimit: TIME_LIMIT_MS,
      markInterruptAsFailure: true,
      ...(PATH ? { path: PATH, endOnFailure: true } : {}),
    },
  );
  t.comment(
    `${sent} hostile messages; worst time to agreement after the attack: ${worst} ms (bound ${CONVERGE_BOUND_MS} ms + the run's clock spread)`,
  );
  t.pass('no honest node threw; the honest cluster agreed in every run');
  meter.report(t, 'membership: hostile member, no crash, converges', N, SEED);
});

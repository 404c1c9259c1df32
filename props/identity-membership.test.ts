// A compromised member in the simulated cluster with signed membership on (issue 13,
// step 3): node-0 holds the cluster key AND a valid certificate of its own, runs an honest
// core, and besides it sends forged membership news about the honest nodes: alives at
// higher incarnations (unsigned, signed with its own certificate, carrying a signature
// taken from the victim's real alive), suspect and dead claims about incarnations the
// victim never signed, forged leaves, push/pull states full of the same, and replays of
// the victim's earlier signed alive. The honest nodes change their metadata meanwhile, so
// their incarnations move and old alives become replays. Real Ed25519 certificates.
//
// Properties:
//   never      no honest node sees another honest node dead or left, nor at an
//              incarnation that node has not reached itself (nobody else raises it);
//   eventually once the forging stops, every honest node holds every other alive at its
//              current incarnation, within the bound of props/membership.test.ts.
//
//   PROPS_RUNS (default 20), PROPS_NODES (default 6), PROPS_SEED, PROPS_PATH
//   IDENTITY_OFF=1 runs the same attacks without signatures (it must fail).
import fc from 'fast-check';
import t from 'tap';
import { PropertyMeter } from './report.js';
import { makeConfig } from '../membership/core/config.js';
import { suspicionTimeout } from '../membership/core/math.js';
import { aliveBytes, leaveBytes } from '../membership/core/member-auth.js';
import type { Alive, Message, PacketMessage, PushNodeState } from '../membership/messages.js';
import { SignedMembership } from '../membership/member-signer.js';
import { GOSSIP_PORT, MembershipCluster } from './sim/index.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 20);
const N = Math.max(3, Number(process.env.PROPS_NODES ?? 6));
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;
const IDENTITY = process.env.IDENTITY_OFF !== '1';
const config = makeConfig('lan');
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
const HOSTILE = NAMES[0]!;
const HONEST = NAMES.slice(1);
const WARMUP_MS = 2000;
const ATTACK_MS = 15_000;
const S = config.suspicionMaxTimeoutMult * suspicionTimeout(config.suspicionMult, N, config.probeIntervalMs);
const CONVERGE_BOUND_MS = S + 3 * config.healIntervalMs + 10_000;

const KINDS = [
  'alive_unsigned',
  'alive_own_sig',
  'alive_stolen_sig',
  'suspect_unsigned_inc',
  'dead_unsigned_inc',
  'leave_unsigned',
  'leave_own_sig',
  'push_pull',
  'replay',
] as const;
type Kind = (typeof KINDS)[number];

interface Forgery {
  at: number;
  kind: Kind;
  victim: number;
  to: number;
  lead: number;
}

const honestIdx = fc.integer({ min: 0, max: HONEST.length - 1 });
const forgeryArb: fc.Arbitrary<Forgery> = fc.record({
  at: fc.integer({ min: 0, max: ATTACK_MS }),
  kind: fc.constantFrom(...KINDS),
  victim: honestIdx,
  to: honestIdx,
  lead: fc.integer({ min: 1, max: 20 }),
});
const updateArb = fc.record({ at: fc.integer({ min: 0, max: ATTACK_MS }), node: honestIdx });

t.test(
  "a compromised member with its own certificate never changes another node's membership state",
  { skip: skipUnless({ commands: ['openssl'] }) },
  async (t) => {
    const pki = makePki(NAMES);
    t.teardown(() => pki.cleanup());
    const base = Date.now();
    const ids = new Map(NAMES.map((n) => [n, pki.identity(n, base)]));
    const hostileAuth = new SignedMembership(ids.get(HOSTILE)!, { clockOffsetMs: base });
    const meter = new PropertyMeter();
    let forged = 0;
    const refusals: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.array(forgeryArb, { minLength: 5, maxLength: 30 }),
        fc.array(updateArb, { maxLength: 8 }),
        (seed, forgeries, updates) => {
          const c = new MembershipCluster({
            nodes: N,
            seed,
            config,
            memberAuth: IDENTITY ? (n) => new SignedMembership(ids.get(n)!, { clockOffsetMs: base }) : undefined,
          });
          meter.run(c);
          const report = (detail: string) =>
            `cluster seed ${seed}; forgeries ${JSON.stringify(forgeries)}; updates ${JSON.stringify(updates)}\n${detail}`;
          // Each honest node's first signed announcement, to steal from and replay later.
          const first = new Map(HONEST.map((n) => [n, c.core(n)!.peekBroadcast(n) as Alive | undefined]));
          const violations: string[] = [];
          c.onEvent((e) => {
            if (
              HONEST.includes(e.observer) &&
              HONEST.includes(e.member.name) &&
              (e.type === 'dead' || e.type === 'leave')
            )
              violations.push(`${e.observer} saw ${e.member.name} ${e.type} at ${e.at}`);
          });
          c.run(WARMUP_MS);
          const start = c.now;
          for (const u of updates)
            c.scheduler.at(start + u.at, () =>
              c.core(HONEST[u.node]!)!.updateMeta(c.host(HONEST[u.node]!).now, new Uint8Array([u.at & 255])),
            );
          const hostile = c.host(HOSTILE);
          const ownSigned = (a: Alive): Alive => ({
            ...a,
            sig: hostileAuth.sign('alive', aliveBytes(a)),
            cert: hostileAuth.ownCert(true),
          });
          const build = (f: Forgery): { msgs: PacketMessage[]; states?: PushNodeState[] } => {
            const victim = HONEST[f.victim]!;
            const me = c.core(victim)!.localMember();
            const inc = me.incarnation + f.lead;
            const node = { name: victim, addr: me.addr, port: me.port };
            const forgedAlive: Alive = { t: 'alive', incarnation: inc, node, meta: new Uint8Array([6, 6, 6]) };
            const stolen = first.get(victim);
            switch (f.kind) {
              case 'alive_unsigned':
                return { msgs: [forgedAlive] };
              case 'alive_own_sig':
                return { msgs: [ownSigned(forgedAlive)] };
              case 'alive_stolen_sig':
                return { msgs: [{ ...forgedAlive, ...(stolen?.sig ? { sig: stolen.sig, cert: stolen.cert } : {}) }] };
              case 'suspect_unsigned_inc':
                return { msgs: [{ t: 'suspect', incarnation: inc, node: victim, from: HOSTILE }] };
              case 'dead_unsigned_inc':
                return { msgs: [{ t: 'dead', incarnation: inc, node: victim, from: HOSTILE }] };
              case 'leave_unsigned':
                return { msgs: [{ t: 'dead', incarnation: me.incarnation, node: victim, from: victim }] };
              case 'leave_own_sig':
                return {
                  msgs: [
                    {
                      t: 'dead',
                      incarnation: me.incarnation,
                      node: victim,
                      from: victim,
                      sig: hostileAuth.sign('leave', leaveBytes(victim, me.incarnation)),
                      cert: hostileAuth.ownCert(true),
                    },
                  ],
                };
              case 'push_pull':
                return {
                  msgs: [],
                  states: [
                    { node, incarnation: inc, state: 'alive', meta: new Uint8Array([6]) },
                    { node, incarnation: inc, state: 'dead', meta: me.meta },
                    { node, incarnation: me.incarnation, state: 'left', meta: me.meta },
                    {
                      node,
                      incarnation: inc + 1,
                      state: 'suspect',
                      meta: me.meta,
                      sig: hostileAuth.sign('alive', aliveBytes({ incarnation: inc + 1, node, meta: me.meta })),
                      cert: hostileAuth.ownCert(true),
                    },
                  ],
                };
              case 'replay':
                return { msgs: stolen ? [stolen] : [] };
            }
          };
          for (const f of forgeries) {
            c.scheduler.at(start + f.at, () => {
              const b = build(f);
              const to = c.endpointOf(HONEST[f.to]!);
              forged++;
              if (b.states)
                c.network.openStream(
                  hostile,
                  GOSSIP_PORT,
                  to,
                  { t: 'push-pull', join: false, states: b.states } satisfies Message,
                  400,
                  () => 0,
                );
              else if (b.msgs.length) c.network.sendDatagram(hostile, GOSSIP_PORT, to, b.msgs, 200);
            });
          }
          // Nobody but the node raises its incarnation: checked every 50 ms of the attack.
          const checkIncarnations = () => {
            for (const o of HONEST) {
              for (const n of HONEST) {
                if (n === o) continue;
                const seen = c.core(o)!.member(n)?.incarnation ?? 0;
                const own = c.core(n)!.localMember().incarnation;
                if (seen > own)
                  violations.push(`${o} holds ${n} at incarnation ${seen}, above its own ${own}, at ${c.now}`);
              }
            }
          };
          for (let at = 0; at <= ATTACK_MS + 1000; at += 50) c.scheduler.at(start + at, checkIncarnations);
          c.runUntil(start + ATTACK_MS + 1000);
          if (violations.length) throw new Error(report(violations.slice(0, 5).join('\n')));
          const stop = c.now;
          const agreed = () =>
            HONEST.every((o) =>
              NAMES.every((n) => {
                if (n === o) return true;
                const m = c.core(o)!.member(n);
                return m?.state === 'alive' && m.incarnation === c.core(n)!.localMember().incarnation;
              }),
            );
          if (c.runUntilTrue(agreed, CONVERGE_BOUND_MS, 250) === undefined) {
            const views = HONEST.map(
              (o) =>
                `${o}: ${NAMES.filter((n) => n !== o)
                  .map((n) => `${n}=${c.core(o)!.member(n)?.state}@${c.core(o)!.member(n)?.incarnation}`)
                  .join(' ')}`,
            );
            throw new Error(report(`no agreement ${CONVERGE_BOUND_MS} ms after ${stop}\n${views.join('\n')}`));
          }
          if (violations.length) throw new Error(report(violations.slice(0, 5).join('\n')));
          for (const o of HONEST)
            for (const [r, k] of Object.entries(c.core(o)!.stats().authRejects)) refusals[r] = (refusals[r] ?? 0) + k;
          return true;
        },
      ),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH, endOnFailure: true } : {}) },
    );
    t.comment(`${forged} forgeries sent; refused by reason: ${JSON.stringify(refusals)}`);
    t.pass("no honest node changed another honest node's membership state wrongly; the cluster converged");
    meter.report(t, 'membership: signed, compromised member', N, SEED);
  },
);

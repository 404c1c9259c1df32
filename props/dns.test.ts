// DNS and VIPs as cluster properties: every simulated node runs membership, the store, the
// real DNS zone builder and responder (dns/zone.ts, dns/answer.ts) and the load balancer's
// record index and VIP planning (lb/records.ts, lb/desired.ts) on its store's live view.
// Under generated crash/restart/partition/loss/clock-skew schedules, on links that also
// duplicate and reorder datagrams:
//   - safety, checked every simulated second: no node's answer ever includes an endpoint
//     whose owner crashed longer than the detection bound ago (and is still down). The
//     bound is membership's for a connected cluster; while a partition cuts a node off (and
//     for a bound after it heals) that node cannot learn of deaths on the other side, and
//     Lifeguard deliberately slows its own verdicts, so it is not held to the bound then:
//     its worst staleness is reported instead;
//   - after the faults stop and the cluster converges, every node gives the same answer
//     (as a set: rotation orders differ) for every service name, and computes the same VIP
//     addresses and backend sets.
//
// The safety check can only fail when some owner has been down longer than the bound with
// no partition meanwhile; a run where that happens "arms" it. Random schedules armed it in
// about 8.5 % of runs (a crash early enough, not restarted, no partition), so five runs in
// six are built around one such crash (other faults around it), and the arming rate
// measured over the runs is reported (the props table's `armed` column); the test fails
// below one half.
//
//   PROPS_RUNS (default 8), PROPS_NODES (default 10), PROPS_SEED, PROPS_PATH as elsewhere.
import fc from 'fast-check';
import t from 'tap';
import dnsPacket from 'dns-packet';
import { makeConfig } from '../membership/core/config.js';
import { suspicionTimeout } from '../membership/core/math.js';
import { DEFAULT_REPLICATION } from '../crdt-store/replication/core.js';
import { Zone } from '../dns/zone.js';
import { Responder } from '../dns/answer.js';
import { RecordIndex } from '../lb/records.js';
import { computeDesired } from '../lb/desired.js';
import { parseCidr } from '../lb/allocator.js';
import { endpointKey, nodeKey, type EndpointRecord } from '../records/schema.js';
import { describeFaults, skewFromSeed, type Fault } from './sim/index.js';
import { StoreCluster } from './sim/store-cluster.js';
import { reportProperty } from './report.js';

const RUNS = Number(process.env.PROPS_RUNS ?? 8);
const N = Number(process.env.PROPS_NODES ?? 10);
const SEED = process.env.PROPS_SEED !== undefined ? Number(process.env.PROPS_SEED) : Date.now() % 2 ** 31;
const PATH = process.env.PROPS_PATH;

const config = makeConfig('lan');
const NAMES = Array.from({ length: N }, (_, i) => `node-${i}`);
// Membership's crash bound (props/membership.test.ts): Smin(n) + 10 probe intervals; the
// live view follows membership at once.
const SMIN = suspicionTimeout(config.suspicionMult, N, config.probeIntervalMs);
const DEAD_BOUND_MS = SMIN + 10 * config.probeIntervalMs;
// After the faults stop every node is up again (restarted): heal retries reunite the two
// sides of a partition (2 H) and anti-entropy spreads what differs (10 R, as in
// props/store.test.ts): 30 s. Worst seen over 200 runs: 18.25 s (PROPS_RUNS=200
// PROPS_SEED=18), within 2x; the old bound, 84 s, was 4.6x.
const CONVERGE_BOUND_MS = 2 * config.healIntervalMs + 10 * DEFAULT_REPLICATION.repairIntervalMs;
const WARMUP_MS = 3000;
// Longer than the dead bound, so a node crashed early in the window is checked past it.
const FAULT_WINDOW_MS = 45_000;
const SERVICES = ['web', 'db', 'cache'];
/** Room for 6 addresses and 5 VIPs: names collide, and every node must settle them alike. */
const VIP_CIDR = parseCidr('10.99.0.0/29');

t.comment(
  `dns props: ${N} nodes, ${RUNS} runs, PROPS_SEED=${SEED}; dead endpoint bound ${DEAD_BOUND_MS} ms, converge ${CONVERGE_BOUND_MS} ms`,
);

const nodeArb = fc.integer({ min: 0, max: N - 1 }).map((i) => NAMES[i]!);
const faultArb: fc.Arbitrary<Fault> = (() => {
  const at = fc.integer({ min: 0, max: FAULT_WINDOW_MS });
  return fc.oneof(
    fc.record({ at, kind: fc.constant('crash' as const), node: nodeArb }),
    fc.record({
      at,
      kind: fc.constant('restart' as const),
      node: nodeArb,
      newAddress: fc.constant(false),
      skewMs: fc.integer({ min: -600_000, max: 600_000 }),
    }),
    fc.record({
      at,
      kind: fc.constant('partition' as const),
      groups: fc
        .array(fc.integer({ min: 0, max: 1 }), { minLength: N, maxLength: N })
        .map((s) =>
          [NAMES.filter((_, i) => s[i] === 0), NAMES.filter((_, i) => s[i] === 1)].filter((g) => g.length > 0),
        ),
    }),
    fc.record({ at, kind: fc.constant('heal' as const) }),
    fc.record({ at, kind: fc.constant('loss' as const), p: fc.double({ min: 0, max: 0.2, noNaN: true }) }),
  );
})();

/** Any schedule of up to 6 faults. */
const randomScheduleArb = fc.array(faultArb, { maxLength: 6 });

/**
 * A crash early enough that its owner stays down past the bound inside the window, with the
 * other faults kept off it until then: no partition, no restart of the victim.
 */
const armingScheduleArb = fc
  .record({
    victim: nodeArb,
    at: fc.integer({ min: 0, max: Math.max(0, FAULT_WINDOW_MS - DEAD_BOUND_MS - 5000) }),
    rest: fc.array(faultArb, { maxLength: 5 }),
  })
  .map(({ victim, at, rest }): Fault[] => {
    const quietUntil = at + DEAD_BOUND_MS + 5000;
    const others = rest.filter(
      (f) => !(f.at < quietUntil && (f.kind === 'partition' || (f.kind === 'restart' && f.node === victim))),
    );
    return [{ at, kind: 'crash', node: victim }, ...others];
  });

/** Endpoint address of node i's endpoint of service s: unique, so an answer names its owner. */
const addrOf = (node: string, s: number) => `10.${s + 1}.0.${Number(node.slice(5)) + 1}`;
const ownerOf = (addr: string) => `node-${Number(addr.split('.')[3]) - 1}`;

function answerA(r: Responder<unknown>, name: string): string[] | 'nxdomain' {
  const q = dnsPacket.encode({
    type: 'query',
    id: 1,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name, class: 'IN' }],
  });
  const out = r.handle(q, true);
  if (!out) return [];
  const msg = dnsPacket.decode(out) as { rcode?: string; answers?: { type: string; data?: unknown }[] };
  if (msg.rcode === 'NXDOMAIN') return 'nxdomain';
  return (msg.answers ?? [])
    .filter((a) => a.type === 'A')
    .map((a) => String(a.data))
    .sort();
}

t.test(
  'DNS answers: never a long-dead endpoint; the same at every node after convergence; VIP plans agree',
  async (t) => {
    let runs = 0;
    let armedRuns = 0;
    let checks = 0;
    let worstPartitionedStale = 0;
    let worstConverge = 0;
    let simulatedMs = 0;
    const started = performance.now();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc
          .oneof({ weight: 5, arbitrary: armingScheduleArb }, { weight: 1, arbitrary: randomScheduleArb })
          .map((fs) => [...fs].sort((a, b) => a.at - b.at)),
        (seed, faults) => {
          runs++;
          let armed = false;
          const responders = new Map<string, Responder<unknown>>();
          const lbIndexes = new Map<string, RecordIndex>();
          const c = new StoreCluster({
            nodes: N,
            seed,
            config,
            skewMs: skewFromSeed(seed),
            // Besides the scheduled faults, every link duplicates and reorders some datagrams.
            link: { duplicate: 0.02, reorder: 0.05, reorderDelayMs: 20 },
            onStart: (name, store) => {
              const zone = new Zone({ nodeName: name });
              zone.attach(store);
              responders.set(name, new Responder(zone, undefined, undefined, {}));
              const idx = new RecordIndex();
              idx.attach(store, () => {});
              lbIndexes.set(name, idx);
            },
          });
          // Every node registers itself and one endpoint of each service, as its registrar would.
          for (const n of NAMES) {
            c.write(n, nodeKey(n), { addr: `192.168.0.${Number(n.slice(5)) + 1}` }, { durable: true });
            SERVICES.forEach((service, s) => {
              // Every service backs a VIP of its name; a tiny VIP CIDR below forces collisions.
              const rec: EndpointRecord = {
                service,
                addrs: [addrOf(n, s)],
                ports: { http: { port: 80, proto: 'tcp' } },
                health: 'none',
                vips: [{ vip: service, port: 80, proto: 'tcp', targetPort: 8080 }],
                source: 'docker',
              };
              c.write(n, endpointKey(service, n, 'c1'), rec as never, { durable: true });
            });
          }
          // Declared VIPs, written at two nodes at once: shared records, merged.
          c.write(NAMES[0]!, 'vip/api:443/tcp', { vip: 'api', port: 443, proto: 'tcp' }, { shared: true });
          c.write(NAMES[1]!, 'vip/metrics:9100/tcp', { vip: 'metrics', port: 9100, proto: 'tcp' }, { shared: true });
          c.run(WARMUP_MS);
          const start = c.now;
          const downSince = new Map<string, number>();
          const report = (detail: string) =>
            `cluster seed ${seed}, ${N} nodes; faults (after ${WARMUP_MS} ms warm-up):\n${describeFaults(faults) || '(none)'}\n${detail}`;
          // Safety: no up node answers with an endpoint of a node down longer than the bound.
          const checkAnswers = (n: string, lastPartitioned: number) => {
            for (const service of SERVICES) {
              const a = answerA(responders.get(n)!, `${service}.svc.weft.internal`);
              checks++;
              if (a === 'nxdomain') continue;
              for (const addr of a) {
                const since = downSince.get(ownerOf(addr));
                if (since === undefined) continue;
                if (c.now - lastPartitioned <= DEAD_BOUND_MS) {
                  worstPartitionedStale = Math.max(worstPartitionedStale, c.now - since);
                  continue;
                }
                if (c.now - since > DEAD_BOUND_MS)
                  throw new Error(
                    report(
                      `at ${c.now - start} ms ${n} answered ${service} with ${addr} of ${ownerOf(addr)}, down for ${c.now - since} ms (bound ${DEAD_BOUND_MS})`,
                    ),
                  );
              }
            }
          };
          c.scheduleFaults(faults);
          for (let tick = 0; tick <= FAULT_WINDOW_MS; tick += 1000) {
            c.run(1000);
            const lastPartitioned = c.membership.network.lastPartitioned;
            for (const n of NAMES) {
              const down = !c.isUp(n);
              if (down && !downSince.has(n)) downSince.set(n, c.now);
              if (!down) downSince.delete(n);
            }
            // Armed: a stale answer now would fail the run.
            if (
              c.now - lastPartitioned > DEAD_BOUND_MS &&
              [...downSince.values()].some((since) => c.now - since > DEAD_BOUND_MS)
            )
              armed = true;
            for (const n of c.upNodes()) checkAnswers(n, lastPartitioned);
          }
          c.membership.heal();
          c.membership.setLoss(0);
          for (const n of NAMES) if (!c.isUp(n) && c.membership.host(n).status === 'down') c.restart(n);
          const stop = c.now;
          const done = c.runUntilTrue(() => c.membership.converged() && c.storesAgree(), CONVERGE_BOUND_MS, 250);
          if (done === undefined)
            throw new Error(report(`not converged ${CONVERGE_BOUND_MS} ms after the faults stopped`));
          worstConverge = Math.max(worstConverge, done - stop);
          // Liveness: one answer everywhere, and it is every endpoint (every node is up again).
          for (const service of SERVICES) {
            const s = SERVICES.indexOf(service);
            const want = NAMES.map((n) => addrOf(n, s))
              .sort()
              .join(',');
            for (const n of c.upNodes()) {
              const got = answerA(responders.get(n)!, `${service}.svc.weft.internal`);
              if (got === 'nxdomain' || got.join(',') !== want)
                throw new Error(
                  report(
                    `${c.now - stop} ms after faults stopped, ${n} answers ${service} with ${JSON.stringify(got)}; want ${want}`,
                  ),
                );
            }
          }
          // VIPs: the same addresses (collisions included) and backends at every node.
          const plans = c.upNodes().map((n) => {
            const idx = lbIndexes.get(n)!;
            const d = computeDesired(idx.endpoints.values(), idx.declared.values(), VIP_CIDR);
            return JSON.stringify([
              d.vips.map((v) => [v.key, v.addr, v.backends.map((b) => `${b.addr}:${b.port}`).sort()]),
              d.unallocated,
            ]);
          });
          if (new Set(plans).size !== 1)
            throw new Error(report(`nodes plan different VIPs after convergence:\n${[...new Set(plans)].join('\n')}`));
          const vipCount = (JSON.parse(plans[0]!) as unknown[][])[0]!.length;
          if (vipCount !== SERVICES.length + 2)
            throw new Error(report(`expected ${SERVICES.length + 2} VIPs, planned ${vipCount}`));
          simulatedMs += c.now;
          if (armed) armedRuns++;
          if (process.env.PROPS_DEBUG_ARMING)
            t.comment(`run ${runs}: armed ${armed}: ${describeFaults(faults).split('\n').join('; ')}`);
        },
      ),
      // Shrinking replays whole simulations: capped so a failure is reported in minutes.
      // Unbiased: fast-check's bias towards small values (empty schedules, the first choice) took the
      // arming rate of 8 runs down to one half; unbiased, the schedules are drawn as weighted.
      {
        numRuns: RUNS,
        seed: SEED,
        plugins: [fc.unbiased()],
        interruptAfterTimeLimit: Number(process.env.PROPS_TIME_LIMIT_MS ?? 120_000),
        markInterruptAsFailure: true,
        ...(PATH ? { path: PATH, endOnFailure: true } : {}),
      },
    );
    t.pass(
      `${runs} runs, ${checks} answers checked against the dead-endpoint bound; identical answers after convergence`,
    );
    const armedRate = runs ? armedRuns / runs : 0;
    t.ok(
      armedRate >= 0.5,
      `the dead-endpoint check was armed in ${armedRuns} of ${runs} runs (${(armedRate * 100).toFixed(0)} %, at least 50 % wanted)`,
    );
    t.comment(`longest a partitioned node kept answering with a crashed owner's endpoint: ${worstPartitionedStale} ms`);
    t.comment(`worst convergence after the faults stopped: ${worstConverge} ms (bound ${CONVERGE_BOUND_MS} ms)`);
    reportProperty(t, {
      property: 'dns + vips: no long-dead endpoint; same answers and VIP plans',
      runs,
      nodes: N,
      simulatedMs,
      wallMs: performance.now() - started,
      seed: SEED,
      armed: armedRate,
    });
  },
);

// `weft chaos`: failure injection into a `weft dev-cluster`, after Docker's Entropy.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseCommand } from './args.js';
import { CommandFailed, UsageError } from './errors.js';
import { ChaosPlanner, type Fault, type TargetNode } from '../chaos/planner.js';
import { parsePlan, PolicyError, POLICY_FORMAT, unfitPolicies, type ChaosPlan } from '../chaos/policy.js';
import { ChaosRefused, heal, inject, openCluster, type DevCluster } from '../chaos/cluster.js';

const HELP = `Usage: weft chaos --cluster DIR (--policy FILE | --mode MODE [flags])

Inject faults into the agents of a running \`weft dev-cluster\` (its --dir), and nothing
else: network faults go into the cluster's own namespaces (nftables), process faults
through the dev-cluster's control socket. Prints one JSON line per fault injected or
healed; heals everything at the end or on Ctrl-C.

Modes:
  drop        drop a fraction (--loss) of the target's gossip and store packets  (--netns)
  partition   cut the targets off from the rest of the cluster                   (--netns)
  latency     delay the target's packets (needs tc netem in the kernel)          (--netns)
  pause       SIGSTOP the target's agent, SIGCONT when the fault ends
  kill        kill -9 the target's agent, start it again when the fault ends

Flags:
  --cluster DIR      the dev cluster's directory (required)
  --policy FILE      policies in YAML or JSON (the format below); or one policy by flags:
  --mode MODE        one of the modes above
  --probability P    chance of a fault per interval (default 1)
  --interval D       how often to roll (default 5s)
  --duration D       how long one fault lasts (default 3s)
  --target NAME      a node it may hit (repeatable; default any)
  --match REGEX      nodes whose name matches
  --meta TEXT        nodes whose gossip metadata contains TEXT
  --count N          nodes per fault (partition: the size of the cut-off group; default 1)
  --loss F           drop: fraction of packets (default 1)
  --delay D          latency: added delay (default 100ms)
  --for D            how long to inject (default 60s)
  --seed N           replay a schedule
  -h, --help         this help

Policy file (YAML or JSON; the flags above make one policy of the same shape):
${POLICY_FORMAT}

Modes marked (--netns) need a dev cluster started with --netns; chaos checks this before the
first roll.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(HELP, 'chaos', argv, {
    cluster: { type: 'string' },
    policy: { type: 'string' },
    mode: { type: 'string' },
    probability: { type: 'string' },
    interval: { type: 'string' },
    duration: { type: 'string' },
    target: { type: 'string', multiple: true },
    match: { type: 'string' },
    meta: { type: 'string' },
    count: { type: 'string' },
    loss: { type: 'string' },
    delay: { type: 'string' },
    for: { type: 'string' },
    seed: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  if (!values.cluster)
    throw new UsageError('chaos: --cluster DIR is required (the --dir of a running weft dev-cluster)');
  if (!values.policy === !values.mode) throw new UsageError('chaos: give either --policy FILE or --mode MODE');
  let plan: ChaosPlan;
  try {
    plan = parsePlan(
      values.policy
        ? readPolicy(values.policy as string)
        : planFromFlags(values as Record<string, string | string[] | undefined>),
    );
  } catch (e) {
    if (e instanceof PolicyError) throw new UsageError(`chaos: ${e.message}`);
    throw e;
  }
  let cluster: DevCluster;
  try {
    cluster = openCluster(values.cluster as string);
  } catch (e) {
    throw new CommandFailed(`chaos: ${(e as Error).message}`);
  }
  const unfit = unfitPolicies(plan, cluster);
  if (unfit.length) throw new UsageError(`chaos: ${unfit.join('; ')}`);
  return runChaos(cluster, plan);
}

function readPolicy(file: string): unknown {
  try {
    return parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`chaos: cannot read the policy file ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function planFromFlags(v: Record<string, string | string[] | undefined>): unknown {
  const num = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
  return {
    seed: num('seed'),
    for: v.for,
    policies: [
      {
        mode: v.mode,
        probability: num('probability'),
        interval: v.interval,
        duration: v.duration,
        loss: num('loss'),
        delay: v.delay,
        targets: { names: v.target, match: v.match, meta: v.meta, count: num('count') },
      },
    ],
  };
}

const emit = (event: string, f: Fault, startedAt: number, extra: Record<string, unknown> = {}) =>
  console.log(
    JSON.stringify({
      at: new Date().toISOString(),
      t_ms: Math.round(performance.now() - startedAt),
      event,
      fault: f.id,
      policy: f.policy,
      mode: f.mode,
      targets: f.targets,
      ...(f.mode === 'partition' ? { others: f.others } : {}),
      ...(f.mode === 'drop' ? { loss: f.loss, ports: f.ports } : {}),
      ...(f.mode === 'latency' ? { delay_ms: f.delayMs } : {}),
      ...extra,
    }),
  );

async function targetNodes(c: DevCluster): Promise<TargetNode[]> {
  return Promise.all(
    c.nodes.map(async (n) => {
      let meta = '';
      try {
        meta =
          (
            (await (await fetch(`${n.api}/v1/members/self`, { signal: AbortSignal.timeout(2000) })).json()) as {
              meta?: string;
            }
          ).meta ?? '';
      } catch {
        // unreachable now: it can still be chosen by name
      }
      return { name: n.name, meta };
    }),
  );
}

export async function runChaos(c: DevCluster, plan: ChaosPlan): Promise<number> {
  const planner = new ChaosPlanner(plan);
  const nodes = await targetNodes(c);
  const startedAt = performance.now();
  let stopping = false;
  const stop = () => (stopping = true);
  process.once('SIGINT', stop).once('SIGTERM', stop);
  console.error(
    `chaos: ${plan.policies.length} policies for ${plan.forMs / 1000}s on ${c.nodes.length} nodes, seed ${plan.seed}`,
  );
  let failures = 0;
  const act = async (what: 'inject' | 'heal', f: Fault) => {
    try {
      await (what === 'inject' ? inject(c, f) : heal(c, f));
      emit(what, f, startedAt);
    } catch (e) {
      failures++;
      emit(`${what}_failed`, f, startedAt, { error: (e as Error).message });
      if (e instanceof ChaosRefused) throw e;
    }
  };
  try {
    while (!stopping) {
      const now = performance.now() - startedAt;
      const { inject: inj, heal: hl } = planner.step(now, nodes);
      for (const f of hl) await act('heal', f);
      for (const f of inj) await act('inject', f);
      if (now >= plan.forMs && planner.activeFaults().length === 0) break;
      const wait = Math.max(10, planner.nextAt() - (performance.now() - startedAt));
      await new Promise((r) => setTimeout(r, Math.min(wait, 200)));
    }
  } catch (e) {
    if (!(e instanceof ChaosRefused)) throw e;
    console.error(`chaos: ${e.message}`);
    failures = Math.max(failures, 1);
  } finally {
    for (const f of planner.activeFaults()) await act('heal', f).catch(() => undefined);
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
  console.error(`chaos: done${failures ? `, ${failures} actions failed` : ''}`);
  return failures ? 1 : 0;
}

// The health checks as a supervised child: runs the checks of this node's own endpoints
// (checks/) and writes each status change into the endpoint's record, from where every
// node's DNS and load balancer read it (records/schema.ts isServing). Only changes are
// written, not every result: 500 checks at 1 s would otherwise be 500 store writes a
// second, replicated everywhere.
//
//   PUT /v1/checks/ttl    {"endpoint": "<id>" | "<service>/<id>", "status": "passing|warning|critical", "note"?}
import { randomInt } from 'node:crypto';
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext, StoreHandle } from './context.js';
import { ApiError } from '../api.js';
import { Counter, Gauge } from '../metrics.js';
import { seededRng } from '../../base/rng.js';
import { CheckRunner, ContainerExec, type Transition } from '../../checks/index.js';
import { resolveSocket } from '../../registrar/index.js';
import { parseEndpointKey, parseEndpointRecord, SERVICE_PREFIX } from '../../records/schema.js';
import { boundOutput, CHECK_STATUSES, type CheckStatus } from '../../records/checks.js';
import type { Json } from '../../crdt-store/json-value.js';

export interface ChecksHandle {
  current?: CheckRunner;
}

export function checksChild(ctx: AgentContext, store: StoreHandle, handle: ChecksHandle): ChildSpec {
  const onResult = registerCheckMetrics(ctx, handle);
  registerTtlRoute(ctx, handle);
  return {
    id: 'checks',
    restart: 'permanent',
    shutdownMs: 2_000,
    async start() {
      const s = store.current;
      if (!s) throw new Error('the checks need the store, which is not running');
      const node = ctx.config.node.name;
      const log = ctx.log.child({ component: 'checks' });
      const write = (endpoint: string, check: string, t: Transition) => {
        log.info(
          { endpoint, check, status: t.status, output: t.output },
          `check ${check} of ${endpoint} is ${t.status}: ${t.output}`,
        );
        s.update(endpoint, (cur) => withStatus(cur, check, t)).catch((err: Error) =>
          log.error(
            { endpoint, err: err.message },
            `cannot write the status of check ${check} of ${endpoint}: ${err.message}`,
          ),
        );
      };
      const runner = new CheckRunner({
        rng: seededRng(randomInt(2 ** 31)),
        clock: () => performance.now(),
        onTransition: write,
        onResult,
        hostScripts: ctx.config.checks.allowScripts,
        containerExec: containerExecOf(ctx),
        // Not checked means not known to be healthy: its checks are written critical.
        onRefused: (endpoint, checks, max) => {
          const output = `not run: this node runs ${max} checks already (checks/defaults.ts maxChecksPerNode)`;
          log.warn({ endpoint, max }, `the checks of ${endpoint} are not run: ${output}`);
          for (const check of checks) write(endpoint, check, { id: '', status: 'critical', output });
        },
      });
      // This node's endpoints only: the owner runs the checks, everyone reads the result.
      const unwatch = s.watch(SERVICE_PREFIX, (e) => {
        if (parseEndpointKey(e.key)?.node !== node) return;
        const rec = e.after?.owner === node ? parseEndpointRecord(e.after.value) : undefined;
        // A container's script checks run inside it: the registrar wrote the record, from its labels.
        const container = rec?.source === 'docker' ? rec.container : undefined;
        runner.setEndpoint(e.key, rec?.addrs ?? [], rec?.checks ?? [], container);
      });
      handle.current = runner;
      return {
        async stop() {
          unwatch();
          runner.stop();
          if (handle.current === runner) handle.current = undefined;
        },
      };
    },
  };
}

/** How a container's script checks run here: by Docker exec, when the operator allows them and Docker is on. */
function containerExecOf(ctx: AgentContext): ContainerExec['probe'] | undefined {
  const { checks, docker } = ctx.config;
  if (!checks.allowContainerScripts || !docker.enabled) return undefined;
  const exec = new ContainerExec(resolveSocket(docker.socket || undefined).socket);
  return (def, container) => exec.probe(def, container);
}

/** The record with one check's status replaced; undefined (no write) when the check is gone or already says so. */
export function withStatus(cur: Json | undefined, check: string, t: Transition): Json | undefined {
  const rec = parseEndpointRecord(cur);
  const c = rec?.checks?.find((x) => x.name === check);
  if (!rec || !c || (c.status === t.status && c.output === t.output)) return undefined;
  // The raw value, so that fields this version does not know are kept.
  const raw = cur as Record<string, Json>;
  const checks = (raw.checks as Record<string, Json>[]).map((x) =>
    x.name === check ? { ...x, status: t.status, output: t.output } : x,
  );
  return { ...raw, checks };
}

function registerCheckMetrics(ctx: AgentContext, handle: ChecksHandle): (kind: string, status: CheckStatus) => void {
  const registers = [ctx.registry];
  new Gauge({
    name: 'weft_checks',
    help: "This node's health checks, by status",
    labelNames: ['status'] as const,
    registers,
    collect() {
      const counts = handle.current?.counts() ?? { passing: 0, warning: 0, critical: 0 };
      for (const st of CHECK_STATUSES) this.set({ status: st }, counts[st]);
    },
  });
  const runs = new Counter({
    name: 'weft_check_runs_total',
    help: 'Health check probes run, by kind and result',
    labelNames: ['kind', 'status'] as const,
    registers,
  });
  return (kind, status) => runs.inc({ kind, status });
}

function registerTtlRoute(ctx: AgentContext, handle: ChecksHandle): void {
  ctx.api.route('PUT', '/v1/checks/ttl', (req) => {
    const runner = handle.current;
    if (!runner) throw new ApiError(503, 'the checks are not running; see /v1/status');
    const b = (req.body ?? {}) as Record<string, unknown>;
    const unknown = Object.keys(b).find((k) => !['endpoint', 'status', 'note'].includes(k));
    if (unknown) throw new ApiError(400, `unknown field ${JSON.stringify(unknown)} (known: endpoint, status, note)`);
    if (!CHECK_STATUSES.includes(b.status as CheckStatus))
      throw new ApiError(400, `status must be one of ${CHECK_STATUSES.join(', ')}`);
    if (typeof b.endpoint !== 'string' || b.endpoint === '')
      throw new ApiError(400, 'endpoint must be "<id>" or "<service>/<id>"');
    if (b.note !== undefined && typeof b.note !== 'string') throw new ApiError(400, 'note must be text');
    const [service, id] = b.endpoint.includes('/') ? b.endpoint.split('/', 2) : [undefined, b.endpoint];
    const keys = runner.endpointKeys().filter((k) => {
      const p = parseEndpointKey(k);
      return p?.id === id && (service === undefined || p.service === service);
    });
    if (keys.length > 1)
      throw new ApiError(409, `${id} is an endpoint of several services here; write <service>/${id}`);
    const status = b.status as CheckStatus;
    const output = boundOutput((b.note as string | undefined) ?? `set to ${status} through the API`);
    if (keys.length === 0 || !runner.push(keys[0]!, { status, output }))
      throw new ApiError(404, `this node has no endpoint ${b.endpoint} with a ttl check`);
    return { body: { endpoint: keys[0], status } };
  });
}

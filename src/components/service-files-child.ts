// Service definitions as files (src/service-files.ts) as a supervised child: at start, and at
// every reload (SIGHUP, weft reload), the definitions become this node's endpoint records,
// owned like API registrations. One sync at a time; a set with any problem changes nothing.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import type { MembershipHandle } from './membership-child.js';
import type { StoreHandle } from './store-child.js';
import { Counter } from '../metrics.js';
import { registrationRules } from './service-routes.js';
import { loadServiceDefs, planServiceSync, type ServiceFileProblem } from '../service-files.js';
import { carryCheckStatus } from '../../records/checks.js';
import { stampClaims } from '../../lb/claims.js';
import { parseEndpointKey, parseEndpointRecord, SERVICE_PREFIX, type EndpointRecord } from '../../records/schema.js';

export interface SyncResult {
  /** "services: 2 added, 1 updated, 1 removed", when anything changed. */
  applied?: string;
  /** One line per problem, naming the file; when any, nothing was changed. */
  errors: string[];
}

export interface ServiceFilesHandle {
  current?: { sync(): Promise<SyncResult> };
}

export function serviceFilesChild(
  ctx: AgentContext,
  membership: MembershipHandle,
  store: StoreHandle,
  handle: ServiceFilesHandle,
  configFile: string,
): ChildSpec {
  const rejected = new Counter({
    name: 'weft_service_files_rejected_total',
    help: 'Service definition files (or config services.list) refused at a load or reload, by reason',
    labelNames: ['reason'] as const,
    registers: [ctx.registry],
  });
  return {
    id: 'service-files',
    restart: 'permanent',
    shutdownMs: 5_000,
    async start() {
      if (!store.current || !membership.current)
        throw new Error('the service files need the store, which is not running');
      const log = ctx.log.child({ component: 'service-files' });
      const deps = { ctx, s: store.current, m: membership.current, configFile, log };
      let queue: Promise<unknown> = Promise.resolve();
      const sync = () => {
        const run = queue.then(() => syncOnce(deps));
        queue = run.catch(() => undefined);
        return run.then((r) => {
          for (const p of r.problems) rejected.inc({ reason: p.reason });
          return { ...(r.applied ? { applied: r.applied } : {}), errors: r.problems.map(problemText) };
        });
      };
      // A bad set at start is reported and the agent runs on: fix the file, then weft reload.
      await sync();
      const current = { sync };
      handle.current = current;
      return {
        async stop() {
          if (handle.current === current) handle.current = undefined;
          await queue;
        },
      };
    },
  };
}

const problemText = (p: ServiceFileProblem) => `${p.file}: ${p.message}`;

interface Deps {
  ctx: AgentContext;
  s: NonNullable<StoreHandle['current']>;
  m: NonNullable<MembershipHandle['current']>;
  configFile: string;
  log: AgentContext['log'];
}

async function syncOnce(d: Deps): Promise<{ applied?: string; problems: ServiceFileProblem[] }> {
  const { config } = d.ctx;
  if (!config.services.dir && config.services.list.length === 0 && !hasFileRecords(d)) return { problems: [] };
  const rules = registrationRules(d.ctx, d.m);
  const { defs, problems } = await loadServiceDefs({
    list: config.services.list,
    configFile: d.configFile,
    dir: config.services.dir,
    node: config.node.name,
    nodeAddr: d.m.localMember().addr,
    ...rules,
  });
  const plan = planServiceSync(defs, mineOf(d));
  problems.push(...plan.conflicts);
  if (problems.length) {
    for (const p of problems)
      d.log.error(
        { file: p.file, reason: p.reason },
        `service definitions not applied, the running set stays: ${problemText(p)}`,
      );
    return { problems };
  }
  let added = 0;
  let updated = 0;
  for (const def of plan.put) {
    const prev = parseEndpointRecord(d.s.get(def.key, { view: 'all' })?.value);
    const rec: EndpointRecord = { ...def.rec, vips: stampClaims(def.rec.vips, prev?.vips, d.s, Date.now()) };
    if (rec.checks) rec.checks = carryCheckStatus(rec.checks, prev?.checks);
    const r = await d.s.put(def.key, rec as unknown as Parameters<typeof d.s.put>[1], { durable: true });
    if (!r.changed) continue;
    if (prev) updated++;
    else added++;
    d.log.info(
      { service: rec.service, id: def.id, file: def.file },
      `${prev ? 'updated' : 'registered'} service endpoint ${rec.service}/${def.id} from ${def.file}`,
    );
  }
  if (plan.remove.length) await d.s.deleteAll(plan.remove, { durable: true });
  for (const key of plan.remove)
    d.log.info({ key }, `deregistered ${key.slice(SERVICE_PREFIX.length)}: no service file defines it any more`);
  const removed = plan.remove.length;
  if (!added && !updated && !removed) return { problems: [] };
  return { applied: `services: ${added} added, ${updated} updated, ${removed} removed`, problems: [] };
}

/** This node's endpoint records, by key (dead or alive: they are this node's). */
function mineOf(d: Deps): Map<string, EndpointRecord> {
  const mine = new Map<string, EndpointRecord>();
  for (const e of d.s.entries(SERVICE_PREFIX, { view: 'all' })) {
    if (parseEndpointKey(e.key)?.node !== d.ctx.config.node.name) continue;
    const rec = parseEndpointRecord(e.value);
    if (rec) mine.set(e.key, rec);
  }
  return mine;
}

/** Records from files of an earlier config: a config without files must still remove them. */
const hasFileRecords = (d: Deps): boolean => [...mineOf(d).values()].some((r) => r.file !== undefined);

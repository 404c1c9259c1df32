// Service definitions as files (issue 14): `services.list` in the config file and the YAML or
// JSON files of `services.dir`, each one service or a list of them, in the shape of the API's
// register body and checked by the same validator (endpointFromBody), so a file and a POST
// cannot mean different things.
//
// All or nothing: the definitions apply only when every file reads and validates and no id is
// given twice. Otherwise nothing changes and every problem is reported by file name. A half
// applied set would deregister the services of a file that has a typo in it, or register one
// twice when it moved between files; an operator fixing a file should never see the running
// set move under a broken edit.
//
// Which records are the files' own: those this node wrote with `file` set (records/schema.ts).
// API and Docker records have none, and a reload never touches them; a file defining an id
// that one of them holds is refused by name (the planner's conflict).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from './api.js';
import { endpointFromBody } from './components/service-routes.js';
import { readBoundedFile, parseYamlText } from './yaml-text.js';
import { endpointKey, FILE_ORIGIN, type EndpointRecord } from '../records/schema.js';

export const SERVICE_FILE_LIMITS = {
  /** Definition files read from services.dir. */
  maxFiles: 1000,
  /** Services defined by all files and the config together. */
  maxServices: 2000,
};

/** The file names of services.dir that are read: hidden files (editors' swap files) and other extensions are not. */
export const SERVICE_FILE_NAME = /^[^.].*\.(ya?ml|json)$/;

export type RejectReason = 'read' | 'yaml' | 'invalid' | 'duplicate' | 'conflict' | 'limit';

export interface ServiceFileProblem {
  /** The file (or config file) it is about. */
  file: string;
  reason: RejectReason;
  message: string;
}

export interface ServiceDef {
  /** Where it is defined: a path, as the record's `file` field holds it. */
  file: string;
  id: string;
  key: string;
  rec: EndpointRecord;
}

export interface LoadOptions {
  /** services.list from the config, and the file it came from (for messages and records). */
  list: readonly unknown[];
  configFile: string;
  /** services.dir; empty: none. */
  dir: string;
  node: string;
  nodeAddr: string;
  checkVip?: (vip: string) => string | undefined;
  refuseScript?: string;
}

/** Every definition, or every problem found (then `defs` must not be applied). */
export async function loadServiceDefs(o: LoadOptions): Promise<{ defs: ServiceDef[]; problems: ServiceFileProblem[] }> {
  const problems: ServiceFileProblem[] = [];
  const sources: { file: string; items: unknown[] }[] = [];
  if (o.list.length) sources.push({ file: o.configFile, items: [...o.list] });
  if (o.dir) {
    for (const file of listDir(o.dir, problems)) {
      const items = await readDefinitionFile(file, problems);
      if (items) sources.push({ file, items });
    }
  }
  const defs: ServiceDef[] = [];
  const seen = new Map<string, string>();
  for (const { file, items } of sources) {
    items.forEach((item, i) => {
      const where = items.length > 1 || file === o.configFile ? `service ${i + 1}: ` : '';
      const def = defOf(item, file, o);
      if (typeof def === 'string') return problems.push({ file, reason: 'invalid', message: where + def });
      const first = seen.get(def.key);
      if (first !== undefined)
        return problems.push({
          file,
          reason: 'duplicate',
          message: `${where}id ${def.id} of service ${def.rec.service} is also defined in ${first}`,
        });
      seen.set(def.key, file);
      defs.push(def);
    });
  }
  if (defs.length > SERVICE_FILE_LIMITS.maxServices)
    problems.push({
      file: o.dir || o.configFile,
      reason: 'limit',
      message: `${defs.length} services defined; at most ${SERVICE_FILE_LIMITS.maxServices}`,
    });
  return { defs, problems };
}

/** The definition files of a directory, sorted, or none with a problem. */
function listDir(dir: string, problems: ServiceFileProblem[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => SERVICE_FILE_NAME.test(n));
  } catch (e) {
    // A missing directory is a problem, not "no services": an unmounted disk must not deregister everything.
    problems.push({ file: dir, reason: 'read', message: `cannot be listed (${(e as NodeJS.ErrnoException).code})` });
    return [];
  }
  if (names.length > SERVICE_FILE_LIMITS.maxFiles) {
    problems.push({
      file: dir,
      reason: 'limit',
      message: `${names.length} definition files; at most ${SERVICE_FILE_LIMITS.maxFiles}`,
    });
    return [];
  }
  return names.sort().map((n) => join(dir, n));
}

/** The services of one file (one object or a list), or undefined with a problem. */
async function readDefinitionFile(file: string, problems: ServiceFileProblem[]): Promise<unknown[] | undefined> {
  if (!FILE_ORIGIN.test(file)) {
    problems.push({ file, reason: 'read', message: 'the path must be printable ASCII (it is shown in every table)' });
    return undefined;
  }
  const read = readBoundedFile(file);
  if ('error' in read) {
    problems.push({ file, reason: 'read', message: read.error });
    return undefined;
  }
  const parsed = await parseYamlText(read.text);
  if ('error' in parsed) {
    problems.push({ file, reason: 'yaml', message: (parsed.line ? `line ${parsed.line}: ` : '') + parsed.error });
    return undefined;
  }
  const v = parsed.value;
  if (Array.isArray(v)) return v;
  if (typeof v === 'object' && v !== null) return [v];
  problems.push({
    file,
    reason: 'invalid',
    message: 'must be a service {"service": ..., "id"?, "ports"?, ...} or a list of them',
  });
  return undefined;
}

/** One definition, checked as a POST /v1/services body is; or why it is refused. */
function defOf(item: unknown, file: string, o: LoadOptions): ServiceDef | string {
  try {
    const rec = endpointFromBody(item, o.nodeAddr, o.checkVip, o.refuseScript);
    const id = (item as { id?: string }).id ?? rec.service;
    rec.file = file;
    return { file, id, key: endpointKey(rec.service, o.node, id), rec };
  } catch (e) {
    if (e instanceof ApiError) return e.message;
    throw e;
  }
}

export interface SyncPlan {
  /** Definitions to write (new or maybe changed: the store says which changed). */
  put: ServiceDef[];
  /** Keys of the files' own records that no file defines any more. */
  remove: string[];
  /** Definitions whose key an API or Docker registration holds: not written. */
  conflicts: ServiceFileProblem[];
}

/** What to write, given this node's endpoint records by key. Pure. */
export function planServiceSync(defs: readonly ServiceDef[], mine: ReadonlyMap<string, EndpointRecord>): SyncPlan {
  const plan: SyncPlan = { put: [], remove: [], conflicts: [] };
  const wanted = new Set<string>();
  for (const def of defs) {
    wanted.add(def.key);
    const cur = mine.get(def.key);
    if (cur && cur.file === undefined) {
      plan.conflicts.push({
        file: def.file,
        reason: 'conflict',
        message: `id ${def.id} of service ${def.rec.service} is already registered here through ${cur.source === 'docker' ? 'Docker' : 'the API'}; deregister it there or give the file another id`,
      });
    } else plan.put.push(def);
  }
  for (const [key, rec] of mine) if (rec.file !== undefined && !wanted.has(key)) plan.remove.push(key);
  return plan;
}

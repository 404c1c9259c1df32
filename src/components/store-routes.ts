// The store over HTTP. /v1/kv is the user's key-value space: user key K is store key
// "kv/K", a shared record that any node may write (concurrent writes of one key: the
// last writer wins, by Automerge's rule — the higher Lamport time, ties broken by actor).
// /v1/store reads everything, weft's own records included, for operators.
//
//   GET    /v1/kv?prefix=P[&watch=true]   list (or stream changes as JSON lines)
//   GET    /v1/kv/<key>                   one value and its index
//   PUT    /v1/kv/<key>[?durable=true][&cas=N]  body: any JSON value (never code); with cas,
//                                         only if the key is at index N (0: only if absent), else 409
//   DELETE /v1/kv/<key>[?durable=true][&recurse=true]  recurse: every key under the prefix
//
// The index of a key is the Lamport counter of its winning write (LocalStore.versionOf): a
// later write of the key made on a replica that had seen it always has a greater one. A
// check-and-set is checked against this node's replica: it prevents lost updates among the
// writers that go through one node, and among nodes once a write has spread; two nodes
// writing at once before they sync can both succeed, and the later write wins everywhere.
//   GET    /v1/store?prefix=P&view=live|all
import type { AgentContext, StoreHandle } from './context.js';
import { ApiError, type ApiRequest } from '../api.js';
import {
  SHARED_OWNER,
  StoreValueError,
  type Json,
  type StoreRecord,
  type StoreNode,
  type WatchEvent,
} from '../../crdt-store/index.js';
import { KV_PREFIX } from '../../records/schema.js';

function requireStore(handle: StoreHandle): StoreNode {
  if (!handle.current) throw new ApiError(503, 'the store is not running; see /v1/status');
  return handle.current;
}

function flag(req: ApiRequest, name: string): boolean {
  const v = req.query.get(name);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw new ApiError(400, `?${name}= takes true or false, not "${v}"`);
}

const userKey = (r: StoreRecord) => r.key.slice(KV_PREFIX.length);
const kvJson = (r: StoreRecord, store: StoreNode) => ({
  key: userKey(r),
  value: r.value,
  index: store.versionOf(r.key) ?? 0,
});

/** The user key of a /v1/kv/<key> request; an empty one is refused (it would name the whole space). */
function keyOf(req: ApiRequest): string {
  // The router drops empty segments; a prefix's trailing "/" (app/ is not apple) is put back.
  const key = (req.params.key ?? '') + (req.path.endsWith('/') && req.params.key ? '/' : '');
  if (key === '') throw new ApiError(400, 'the key is empty: name one, as in /v1/kv/app/config');
  return key;
}

/** ?cas=N: a whole number, or undefined when absent. */
function casOf(req: ApiRequest): number | undefined {
  const v = req.query.get('cas');
  if (v === null) return undefined;
  if (!/^\d{1,15}$/.test(v))
    throw new ApiError(400, `?cas= takes the key's index (a whole number, 0: only if absent), not "${v}"`);
  return Number(v);
}

/** Runs a store write, turning a refused key or value into a 400 for the caller. */
async function write<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StoreValueError) throw new ApiError(400, e.message);
    throw e;
  }
}

export function registerStoreRoutes(ctx: AgentContext, handle: StoreHandle): void {
  const { api } = ctx;

  api.route('GET', '/v1/kv', (req) => {
    const store = requireStore(handle);
    const prefix = KV_PREFIX + (req.query.get('prefix') ?? '');
    if (!flag(req, 'watch')) return { body: { entries: store.entries(prefix).map((r) => kvJson(r, store)) } };
    return {
      stream: (send) =>
        store.watch(prefix, (e: WatchEvent) => {
          const key = e.key.slice(KV_PREFIX.length);
          // No index here: it costs an Automerge lookup per watcher per change (GET has it).
          send(
            e.after
              ? { op: 'put', key, value: e.after.value, initial: e.initial }
              : { op: 'delete', key, initial: e.initial },
          );
        }),
    };
  });

  api.route('GET', '/v1/kv/*key', (req) => {
    const store = requireStore(handle);
    const rec = store.get(KV_PREFIX + keyOf(req));
    if (!rec) throw new ApiError(404, `no key "${req.params.key}"`);
    return { body: kvJson(rec, store) };
  });

  api.route('PUT', '/v1/kv/*key', async (req) => {
    if (req.body === undefined)
      throw new ApiError(400, 'the body is the value: any JSON (a string needs quotes: "text")');
    const key = keyOf(req);
    const cas = casOf(req);
    const durable = flag(req, 'durable');
    const store = requireStore(handle);
    // Checked and written in one turn of the event loop: nothing else writes in between.
    const at = store.versionOf(KV_PREFIX + key) ?? 0;
    if (cas !== undefined && cas !== at) {
      throw new ApiError(
        409,
        at === 0
          ? `cas: "${key}" does not exist (index 0), not at index ${cas}`
          : cas === 0
            ? `cas: "${key}" exists (index ${at}); 0 writes only a new key`
            : `cas: "${key}" is at index ${at}, not ${cas}: it changed since you read it`,
      );
    }
    const r = await write(() => store.put(KV_PREFIX + key, req.body as Json, { shared: true, durable }));
    return {
      body: { key, value: r.record?.value ?? null, changed: r.changed, index: store.versionOf(KV_PREFIX + key) ?? 0 },
    };
  });

  api.route('DELETE', '/v1/kv/*key', async (req) => {
    const key = keyOf(req);
    const durable = flag(req, 'durable');
    const store = requireStore(handle);
    if (flag(req, 'recurse')) {
      const keys = store
        .entries(KV_PREFIX + key, { view: 'all' })
        .filter((r) => r.owner === SHARED_OWNER)
        .map((r) => r.key);
      const deleted = await write(() => store.deleteAll(keys, { shared: true, durable }));
      return { body: { prefix: key, deleted } };
    }
    const deleted = await write(() => store.delete(KV_PREFIX + key, { shared: true, durable }));
    return { body: { key, deleted } };
  });

  api.route('GET', '/v1/store', (req) => {
    const view = req.query.get('view') ?? 'live';
    if (view !== 'live' && view !== 'all') throw new ApiError(400, `?view= is live or all, not "${view}"`);
    const store = requireStore(handle);
    const entries = store.entries(req.query.get('prefix') ?? '', { view });
    // writer: who wrote it (shared records: the winning write's node; with identity on, proven by its signature).
    return {
      body: {
        entries: entries.map((r) => ({
          key: r.key,
          owner: r.owner,
          writer: store.writerOf(r.key, { view }) ?? null,
          value: r.value,
        })),
      },
    };
  });
}

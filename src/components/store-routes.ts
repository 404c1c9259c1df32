// The store over HTTP. /v1/kv is the user's key-value space: user key K is store key
// "kv/K", a shared record that any node may write (concurrent writes of one key: the
// last writer wins, by Automerge's rule — the higher Lamport time, ties broken by actor).
// /v1/store reads everything, weft's own records included, for operators.
//
//   GET    /v1/kv?prefix=P[&watch=true]   list (or stream changes as JSON lines)
//   GET    /v1/kv/<key>                   one value
//   PUT    /v1/kv/<key>[?durable=true]    body: any JSON value (never code)
//   DELETE /v1/kv/<key>[?durable=true]
//   GET    /v1/store?prefix=P&view=live|all
import type { AgentContext, StoreHandle } from './context.js';
import { ApiError, type ApiRequest } from '../api.js';
import { StoreValueError, type Json, type StoreRecord, type StoreNode, type WatchEvent } from '../../crdt-store/index.js';
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
const kvJson = (r: StoreRecord) => ({ key: userKey(r), value: r.value });

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
    if (!flag(req, 'watch')) return { body: { entries: store.entries(prefix).map(kvJson) } };
    return {
      stream: (send) =>
        store.watch(prefix, (e: WatchEvent) => {
          const key = e.key.slice(KV_PREFIX.length);
          send(e.after ? { op: 'put', key, value: e.after.value, initial: e.initial } : { op: 'delete', key, initial: e.initial });
        }),
    };
  });

  api.route('GET', '/v1/kv/*key', (req) => {
    const rec = requireStore(handle).get(KV_PREFIX + req.params.key);
    if (!rec) throw new ApiError(404, `no key "${req.params.key}"`);
    return { body: kvJson(rec) };
  });

  api.route('PUT', '/v1/kv/*key', async (req) => {
    if (req.body === undefined) throw new ApiError(400, 'the body is the value: any JSON (a string needs quotes: "text")');
    const store = requireStore(handle);
    const r = await write(() => store.put(KV_PREFIX + req.params.key, req.body as Json, { shared: true, durable: flag(req, 'durable') }));
    return { body: { key: req.params.key, value: r.record?.value ?? null, changed: r.changed } };
  });

  api.route('DELETE', '/v1/kv/*key', async (req) => {
    const store = requireStore(handle);
    const deleted = await write(() => store.delete(KV_PREFIX + req.params.key, { shared: true, durable: flag(req, 'durable') }));
    return { body: { key: req.params.key, deleted } };
  });

  api.route('GET', '/v1/store', (req) => {
    const view = req.query.get('view') ?? 'live';
    if (view !== 'live' && view !== 'all') throw new ApiError(400, `?view= is live or all, not "${view}"`);
    const store = requireStore(handle);
    const entries = store.entries(req.query.get('prefix') ?? '', { view });
    // writer: who wrote it (shared records: the winning write's node; with identity on, proven by its signature).
    return { body: { entries: entries.map((r) => ({ key: r.key, owner: r.owner, writer: store.writerOf(r.key, { view }) ?? null, value: r.value })) } };
  });
}

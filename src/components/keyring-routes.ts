// `weft keyring` over HTTP (src/keyring-sync.ts has the rules):
//   GET  /v1/keyring                          per key fingerprint: live nodes holding it, sending with it
//   POST /v1/keyring {"op": "install"|"use"|"remove", "key": "<base64>"}
//                                             changes this node's keyring and asks every node to follow
import type { AgentContext, StoreHandle } from './context.js';
import { ApiError } from '../api.js';
import { parseKey } from '../../membership/index.js';
import { KEYRING_OP_KEY, KEYRING_PREFIX } from '../../records/schema.js';
import {
  countKeys,
  fingerprint,
  KEYRING_OPS,
  parseNodeKeys,
  planOp,
  sealKeys,
  type KeyringOp,
  type NodeKeys,
} from '../keyring-sync.js';
import { reconcileKeyring } from '../keyring-file.js';
import type { MembershipHandle } from './membership-child.js';

const NO_KEYS =
  'encryption is off on this agent (no gossip keys): start every agent with --keyring-file (or --encrypt) to use weft keyring';

export function registerKeyringRoutes(ctx: AgentContext, membership: MembershipHandle, store: StoreHandle): void {
  const state = () => {
    const m = membership.current;
    const s = store.current;
    if (!m || !s) throw new ApiError(503, 'membership or the store is not running; see /v1/status');
    const live = m
      .members()
      .filter((x) => x.state === 'alive' || x.state === 'suspect')
      .map((x) => x.name);
    if (!live.includes(ctx.config.node.name)) live.push(ctx.config.node.name);
    const held = new Map<string, NodeKeys>();
    for (const r of s.entries(KEYRING_PREFIX)) {
      const nk = parseNodeKeys(r.value);
      if (nk && r.owner === r.key.slice(KEYRING_PREFIX.length)) held.set(r.owner, nk);
    }
    return { live: live.sort(), counts: countKeys(live, held), store: s };
  };

  ctx.api.route('GET', '/v1/keyring', () => {
    const ring = ctx.keyring;
    if (!ring) return { body: { encryption: false, live: 0, keys: [] } };
    const { live, counts } = state();
    const mine = ring.keys().map(fingerprint);
    return {
      body: {
        encryption: true,
        live: live.length,
        keys: counts.map((c) => ({
          ...c,
          local: mine.includes(c.fingerprint),
          localPrimary: mine[0] === c.fingerprint,
        })),
      },
    };
  });

  ctx.api.route('POST', '/v1/keyring', async (req) => {
    const body = req.body as { op?: unknown; key?: unknown } | undefined;
    const op = body?.op as KeyringOp;
    if (!KEYRING_OPS.includes(op) || typeof body?.key !== 'string')
      throw new ApiError(400, 'body must be {"op": "install"|"use"|"remove", "key": "<base64 of 32 bytes>"}');
    try {
      parseKey(body.key);
    } catch (e) {
      throw new ApiError(400, (e as Error).message);
    }
    const ring = ctx.keyring;
    if (!ring) throw new ApiError(409, NO_KEYS);
    const { live, counts, store: s } = state();
    const plan = planOp(op, body.key, ring.keys(), live, counts);
    if ('refused' in plan) throw new ApiError(409, plan.refused);
    // Here first (so the record below is sealed with the key everyone will hold), then everywhere.
    if (reconcileKeyring(ring, plan.keys)) ctx.keyringChanged();
    await s.put(KEYRING_OP_KEY, sealKeys(ring, plan.keys, ctx.config.node.name, Date.now()) as never, {
      shared: true,
      durable: true,
    });
    return { body: { op, fingerprint: fingerprint(body.key), keys: plan.keys.map(fingerprint) } };
  });
}

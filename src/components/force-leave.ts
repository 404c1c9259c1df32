// weft force-leave (issue 15, as serf's): a node that failed and will not come back is
// turned from dead into left on every node, and its records are dropped now rather than
// after reapAfter (24 h).
//
//   POST /v1/members/<node>/force-leave     202; 409 when the node is alive or suspect
//
// The agent that is asked writes force-leave/<node> = {node, incarnation} into the shared
// records, and every node applies it itself when it holds that node dead at that incarnation
// or earlier, now or when it later learns of the death. A node that comes back (a higher
// incarnation) is untouched, so a stale record can never remove a live node.
//
// The records are deleted once they are older than reapAfter: by then every node has reaped
// the dead member by itself, so the record can change nothing, and keeping it would grow the
// shared document by one record per failed node forever.
import { ApiError } from '../api.js';
import type { AgentContext, StoreHandle } from './context.js';
import type { MembershipHandle } from './membership-child.js';
import type { Membership, MemberInfo } from '../../membership/index.js';
import type { StoreNode } from '../../crdt-store/store-node.js';
import { FORCE_LEAVE_PREFIX } from '../../records/schema.js';

export function registerForceLeaveRoute(ctx: AgentContext, membership: MembershipHandle, handle: StoreHandle): void {
  ctx.api.route('POST', '/v1/members/:node/force-leave', async (req) => {
    const m = membership.current;
    const store = handle.current;
    if (!m || !store) throw new ApiError(503, 'membership or the store is not running; see /v1/status');
    const node = req.params.node!;
    const member = m.members().find((x) => x.name === node);
    if (!member) throw new ApiError(404, `no member ${node} is known to this node (see weft members)`);
    if (member.state === 'alive' || member.state === 'suspect') {
      throw new ApiError(409, `${node} is ${member.state}: it would refute; stop it, or run weft leave on it`);
    }
    await store.put(
      FORCE_LEAVE_PREFIX + node,
      { node, incarnation: member.incarnation, at: Date.now() },
      { shared: true, durable: true },
    );
    return { status: 202, body: { node, incarnation: member.incarnation, state: member.state } };
  });
}

/**
 * Whether a force-leave record can go: older than maxAgeMs, or (a record from before `at` was
 * written) its member is no longer known here, which means it was reaped already.
 */
export function forceLeaveExpired(value: unknown, now: number, maxAgeMs: number, memberKnown: boolean): boolean {
  const at = (value as { at?: unknown } | undefined)?.at;
  if (typeof at === 'number' && Number.isFinite(at)) return now - at > maxAgeMs;
  return !memberKnown;
}

/** Deletes the force-leave records that can change nothing any more (see the header). */
async function sweepForceLeaves(m: Membership, store: StoreNode, maxAgeMs: number): Promise<number> {
  const known = new Set(m.members().map((x) => x.name));
  const expired = store
    .entries(FORCE_LEAVE_PREFIX)
    .filter((r) => forceLeaveExpired(r.value, Date.now(), maxAgeMs, known.has(r.key.slice(FORCE_LEAVE_PREFIX.length))))
    .map((r) => r.key);
  return expired.length ? store.deleteAll(expired, { shared: true }) : 0;
}

/** Applies force-leave records as they arrive, and again whenever a member dies. Returns the function that stops. */
export function followForceLeaves(ctx: AgentContext, m: Membership, store: StoreNode): () => void {
  const apply = (node: string, value: unknown) => {
    const v = value as { node?: unknown; incarnation?: unknown } | undefined;
    if (!v || v.node !== node || !Number.isSafeInteger(v.incarnation)) return;
    if (!m.forceLeave(node, v.incarnation as number)) return;
    const dropped = store.store.reapNow(node);
    ctx.log.info(
      { member: node, records: dropped },
      `member ${node} force-left: now left, ${dropped ? 'its records dropped' : 'it held no records'}`,
    );
  };
  const unwatch = store.watch(FORCE_LEAVE_PREFIX, (e) => apply(e.key.slice(FORCE_LEAVE_PREFIX.length), e.after?.value));
  const onDead = (member: MemberInfo) => apply(member.name, store.get(FORCE_LEAVE_PREFIX + member.name)?.value);
  m.on('dead', onDead);
  const maxAgeMs = m.reapAfterMs;
  const sweep = setInterval(
    () => {
      sweepForceLeaves(m, store, maxAgeMs).catch((err: Error) =>
        ctx.log.warn({ err: err.message }, `force-leave records: sweep failed: ${err.message}`),
      );
    },
    Math.min(maxAgeMs, 3600_000),
  );
  sweep.unref();
  return () => {
    unwatch();
    m.off('dead', onDead);
    clearInterval(sweep);
  };
}

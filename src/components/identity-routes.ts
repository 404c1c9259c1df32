// Revocation over HTTP (issue 13):
//   POST /v1/tls/revocations {"node": NAME, "signature": "<base64>"}   the CA's signature (weft tls revoke)
// The agent checks the signature against its CA, then writes revoked/<NAME> into the shared
// records; every node checks it again when it reads it (followRevocations), drops the
// node's records and refuses its changes from then on.
import type { AgentContext, StoreHandle } from './context.js';
import { ApiError } from '../api.js';
import { verifyRevocation } from '../../membership/index.js';
import { REVOKED_PREFIX } from '../../records/schema.js';
import type { StoreNode } from '../../crdt-store/store-node.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function registerIdentityRoutes(ctx: AgentContext, handle: StoreHandle): void {
  ctx.api.route('POST', '/v1/tls/revocations', async (req) => {
    const auth = ctx.changeAuth;
    if (!auth) throw new ApiError(409, 'identity is off on this agent (no tls.caFile): revocation needs it');
    const body = req.body as { node?: unknown; signature?: unknown } | undefined;
    const node = body?.node;
    const sig = typeof body?.signature === 'string' ? Buffer.from(body.signature, 'base64') : undefined;
    if (typeof node !== 'string' || !NAME.test(node)) throw new ApiError(400, '"node" is a node name');
    if (!sig || !verifyRevocation(auth.verifier.ca, node, sig))
      throw new ApiError(
        403,
        `the signature does not revoke ${node} under this cluster's CA (weft tls revoke signs with the CA key)`,
      );
    const store = handle.current;
    if (!store) throw new ApiError(503, 'the store is not running; see /v1/status');
    await store.put(
      REVOKED_PREFIX + node,
      { node, signature: sig.toString('base64') },
      { shared: true, durable: true },
    );
    return { status: 201, body: { node, revoked: true } };
  });
}

/**
 * Follows revoked/ records: each one the CA signed revokes its node here (signatures
 * refused, records dropped). A record without a valid CA signature is ignored and logged.
 * Returns the function that stops following.
 */
export function followRevocations(ctx: AgentContext, store: StoreNode): () => void {
  const auth = ctx.changeAuth;
  if (!auth) return () => {};
  return store.watch(REVOKED_PREFIX, (e) => {
    const v = e.after?.value as { node?: unknown; signature?: unknown } | undefined;
    if (!v) return;
    const node = e.key.slice(REVOKED_PREFIX.length);
    const sig = typeof v.signature === 'string' ? Buffer.from(v.signature, 'base64') : undefined;
    if (v.node !== node || !sig || !verifyRevocation(auth.verifier.ca, node, sig)) {
      ctx.log.warn({ key: e.key }, `identity: ${e.key} is not signed by the cluster CA: ignored`);
      return;
    }
    if (node === ctx.config.node.name) {
      ctx.log.error(`identity: this node's certificate was revoked; the other nodes refuse its records`);
      return;
    }
    auth.revoke(node);
    store.store.refuseOwner(node);
    ctx.log.warn({ node }, `identity: node ${node} revoked: its records dropped, its changes refused`);
  });
}

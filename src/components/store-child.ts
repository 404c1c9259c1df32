// The replicated store as a supervised child. It starts after membership (it replicates
// to the members membership reports, and is restarted with it), binds its own port on the
// gossip address and announces that port in the node's gossip metadata, so peers find it
// whatever port it got. Ready once the data directory is loaded and the port is bound.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext, StoreHandle } from './context.js';
import { StoreNode, type SourceMember } from '../../crdt-store/store-node.js';
import { GossipBindError, type Membership } from '../../membership/index.js';
import { BATCH_SIGS_META_KEY, CERT_REFS_META_KEY, readsBatchSigs, readsCertRefs, storePortOf } from '../node-meta.js';
import { nodeKey, recordOwner } from '../../records/schema.js';
import type { MembershipHandle } from './membership-child.js';
import { registerStoreMetrics } from './store-metrics.js';
import { registerStoreRoutes } from './store-routes.js';
import { registerKeyringRoutes } from './keyring-routes.js';
import { followKeyringOps } from '../keyring-sync.js';
import { followRevocations, registerIdentityRoutes } from './identity-routes.js';
import { followForceLeaves, registerForceLeaveRoute } from './force-leave.js';

export type { StoreHandle };

/** Holds the running store so routes and later components can reach it across restarts. */
export function storeChild(ctx: AgentContext, membership: MembershipHandle, handle: StoreHandle): ChildSpec {
  const { config, log } = ctx;
  registerStoreMetrics(ctx, handle);
  registerStoreRoutes(ctx, handle);
  registerKeyringRoutes(ctx, membership, handle);
  registerIdentityRoutes(ctx, handle);
  registerForceLeaveRoute(ctx, membership, handle);
  return {
    id: 'store',
    restart: 'permanent',
    shutdownMs: 10_000,
    async start() {
      const m = membership.current;
      if (!m) throw new Error('the store needs membership, which is not running');
      const store = await startStoreNode(ctx, m);
      for (const p of store.problems) log.warn({ file: p.file }, p.message);
      handle.current = store;
      ctx.listening.set('store', `${store.local.addr}:${store.local.port}`);
      ctx.meta.set('store', store.local.port);
      ctx.meta.set(CERT_REFS_META_KEY, 1);
      ctx.meta.set(BATCH_SIGS_META_KEY, 1);
      ctx.publishMeta();
      const self = m.localMember();
      await store.put(nodeKey(config.node.name), { addr: self.addr });
      // Cluster keyring changes (weft keyring): follow them, and say which keys this node holds.
      const ring = ctx.keyring;
      const sync = ring && followKeyringOps(config.node.name, ring, store, ctx.keyringChanged, (msg) => log.warn(msg));
      if (sync) ctx.keyringListeners.add(sync.publish);
      const stopRevocations = followRevocations(ctx, store);
      const stopForceLeaves = followForceLeaves(ctx, m, store);
      const s = store.stats().store;
      log.info(
        { docs: s.docs, records: s.records, epoch: s.ownEpoch, dataDir: config.node.dataDir || null },
        config.node.dataDir
          ? `store loaded ${s.records} records from ${config.node.dataDir}`
          : 'store is in memory only (no --data-dir)',
      );
      return {
        async stop() {
          stopRevocations();
          stopForceLeaves();
          if (sync) {
            sync.stop();
            ctx.keyringListeners.delete(sync.publish);
          }
          if (handle.current === store) handle.current = undefined;
          ctx.meta.delete('store');
          await store.stop();
        },
      };
    },
  };
}

/** The store node on its port, or an error saying the port is taken and what to do. */
async function startStoreNode(ctx: AgentContext, m: Membership): Promise<StoreNode> {
  const { config, log } = ctx;
  const g = config.gossip;
  try {
    return await StoreNode.start({
      name: config.node.name,
      dataDir: config.node.dataDir || undefined,
      bind: g.bindAddr,
      port: config.store.bindPort,
      membership: m,
      peerEndpoint: storeEndpoint,
      label: g.label,
      // Gossip's keyring itself: a rotation applies to both at once.
      keyring: m.keyring,
      keyOwner: recordOwner,
      auth: ctx.changeAuth,
      readsCertRefs: (member) => readsCertRefs(member.meta),
      readsBatchSigs: (member) => readsBatchSigs(member.meta),
      reapAfterMs: g.reapAfter,
      onError: (err, context) => log.debug({ err: err.message, context }, `store: ${context}: ${err.message}`),
    });
  } catch (err) {
    if (err instanceof GossipBindError && err.code === 'EADDRINUSE') {
      throw new Error(
        `store port ${g.bindAddr}:${config.store.bindPort} is in use: stop the other agent or choose another with --store-port`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** A member's store listens on its gossip address, at the port it announced in its metadata. */
function storeEndpoint(member: SourceMember): { addr: string; port: number } {
  const port = storePortOf(member.meta);
  if (port === undefined) throw new Error(`member ${member.name} has not announced a store port (yet)`);
  return { addr: member.addr, port };
}

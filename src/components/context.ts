// The contract between the agent (src/agent.ts) and its components: what each child gets.
// It sits here, below both, so that the components do not import the agent that imports them.
import type { ApiServer } from '../api.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import type { Keyring } from '../../membership/index.js';
import type { SignedChanges } from '../../crdt-store/change-auth.js';
import type { StoreNode } from '../../crdt-store/index.js';

/** What every component gets: the config, a logger, the metrics registry and the API to add routes to. */
export interface AgentContext {
  config: Config;
  log: Logger;
  registry: Registry;
  api: ApiServer;
  /** Where components report the addresses they serve on, for the ready line and /v1/status. */
  listening: Map<string, string>;
  /**
   * What this node tells the cluster about itself through gossip metadata (JSON): the
   * version, the store's port, the operator's own text. Set a field, then `publishMeta()`.
   */
  meta: Map<string, unknown>;
  publishMeta(): void;
  /**
   * Registries of running component instances, exported with the agent's own: for metrics
   * whose collectors read one instance's state (a restart registers its own afresh).
   */
  instanceRegistries: Set<Registry>;
  /** The one keyring of gossip and the store (undefined: no encryption); it outlives component restarts. */
  keyring: Keyring | undefined;
  /** Call after changing `keyring`: rewrites the keyring file and tells the listeners. */
  keyringChanged(): void;
  keyringListeners: Set<() => void>;
  /** Per-node identity (tls.*): signs this node's store changes and checks everyone's; undefined: identity off. */
  changeAuth: SignedChanges | undefined;
  /** Set before the agent stops: whether membership announces a leave (weft leave, SIGINT) or just goes quiet (a restart). */
  leaveOnStop: boolean;
}

/** The running store, for the routes and metrics that read it (the store component sets it; a restart replaces it). */
export interface StoreHandle {
  current?: StoreNode;
}

// Assembly of one weft agent: the components as children of the root supervisor,
// started in dependency order (each only once the one before is ready) and stopped
// in reverse. Components that have not landed yet are absent, never stand-ins.
import { ApiServer } from './api.js';
import { redacted, type Config, type LoadedConfig } from './config.js';
import type { Logger } from './log.js';
import { Counter, createRegistry, type Registry } from './metrics.js';
import { VERSION } from './version.js';
import { encodeMeta } from './node-meta.js';
import { Supervisor, type ChildSpec, type GaveUpError, type SupervisorEvent } from '../supervisors/index.js';
import { apiChild } from './components/api-child.js';
import { membershipChild, type MembershipHandle } from './components/membership-child.js';
import { storeChild, type StoreHandle } from './components/store-child.js';
import { registerServiceRoutes } from './components/service-routes.js';
import type * as DnsChild from './components/dns-child.js';
import type * as RegistrarChild from './components/registrar-child.js';
import type * as LbChild from './components/lb-child.js';
import type * as OverlayChild from './components/overlay-child.js';
import { checksChild, type ChecksHandle } from './components/checks-child.js';
import { serviceFilesChild, type ServiceFilesHandle, type SyncResult } from './components/service-files-child.js';
import { Keyring, loadIdentity } from '../membership/index.js';
import { SignedChanges } from '../crdt-store/change-auth.js';
import { reconcileKeyring, readKeyringFile, startingKeys, writeKeyringFile } from './keyring-file.js';
import type { AgentContext } from './components/context.js';
import { registerUiRoutes } from './ui-routes.js';

type DnsHandle = DnsChild.DnsHandle;
type RegistrarHandle = RegistrarChild.RegistrarHandle;
type LbHandle = LbChild.LbHandle;
type OverlayHandle = OverlayChild.OverlayHandle;

/** The modules of the components a config may leave off; a module is absent when its component is off. */
export interface OptionalComponents {
  lb?: typeof LbChild | undefined;
  dns?: typeof DnsChild | undefined;
  registrar?: typeof RegistrarChild | undefined;
  overlay?: typeof OverlayChild | undefined;
}

/**
 * Loads the modules of the optional components `config` turns on, and only those: a node
 * without the LB, DNS, Docker or the overlay never loads their code (nor what it pulls in).
 */
export async function loadOptionalComponents(config: Config): Promise<OptionalComponents> {
  const { dns, docker, lb, overlay } = config;
  const [l, d, r, o] = await Promise.all([
    lb.datapath !== 'off' ? import('./components/lb-child.js') : undefined,
    dns.listen.length ? import('./components/dns-child.js') : undefined,
    docker.enabled ? import('./components/registrar-child.js') : undefined,
    overlay.enabled ? import('./components/overlay-child.js') : undefined,
  ]);
  return { lb: l, dns: d, registrar: r, overlay: o };
}

export class Agent {
  readonly ctx: AgentContext;
  readonly gaveUp: Promise<GaveUpError>;
  private readonly root: Supervisor;
  private readonly startedAt = Date.now();
  readonly membership: MembershipHandle = {};
  readonly store: StoreHandle = {};
  readonly dns: DnsHandle = {};
  readonly registrar: RegistrarHandle = {};
  readonly lb: LbHandle = {};
  readonly overlay: OverlayHandle = {};
  readonly checks: ChecksHandle = {};
  readonly serviceFiles: ServiceFilesHandle = {};
  private readonly configFile: string;

  /** Throws KeyringFileError (src/keyring-file.ts) when the keyring file cannot be used, IdentityError when the tls files cannot. */
  constructor(
    loaded: LoadedConfig,
    log: Logger,
    private readonly optional: OptionalComponents,
  ) {
    const registry = createRegistry();
    this.configFile = loaded.file ?? 'config';
    const meta = new Map<string, unknown>([['version', VERSION]]);
    // The node's tags (node.tags) ride in its gossip metadata: peers show and filter on them.
    if (Object.keys(loaded.config.node.tags).length) meta.set('tags', loaded.config.node.tags);
    const starting = startingKeys(loaded.config.gossip);
    if (starting.ignored)
      log.warn(
        { keyFile: loaded.config.gossip.keyFile },
        `the keyring file ${loaded.config.gossip.keyFile} exists, so the keys given by flag, environment or config file are ignored (it holds the current keyring; change it with weft keyring)`,
      );
    this.ctx = {
      config: loaded.config,
      log,
      registry,
      api: new ApiServer(log, registry),
      listening: new Map(),
      meta,
      publishMeta: () => this.membership.current?.updateMeta(encodeMeta(meta)),
      instanceRegistries: new Set(),
      keyring: starting.keys.length ? new Keyring(starting.keys) : undefined,
      keyringChanged: () => this.keyringChanged(),
      keyringListeners: new Set(),
      changeAuth: identityOf(loaded.config, log),
      leaveOnStop: false,
    };
    const { supervision } = loaded.config;
    this.root = new Supervisor({
      name: 'weft',
      // A component holds the ones started before it (the store holds membership), so
      // when one restarts, those after it restart too.
      strategy: 'rest_for_one',
      maxRestarts: supervision.maxRestarts,
      periodMs: supervision.periodMs,
      children: this.children(),
      onEvent: supervisorEventLogger(log, registry),
    });
    this.gaveUp = this.root.gaveUp;
    this.routes();
    registerServiceRoutes(this.ctx, this.membership, this.store);
    registerUiRoutes(this.ctx.api, {
      membership: this.membership,
      config: () => ({ config: redacted(this.ctx.config), sources: loaded.sources }),
      dnsAddr: () => this.ctx.listening.get('dns'),
    });
  }

  /** Ordered: what others depend on first; the API last, so it only answers once the rest is up. */
  private children(): ChildSpec[] {
    const { lb, dns, registrar, overlay } = this.optional;
    return [
      membershipChild(this.ctx, this.membership),
      storeChild(this.ctx, this.membership, this.store),
      ...(lb ? [lb.lbChild(this.ctx, this.store, this.lb)] : []),
      ...(dns ? [dns.dnsChild(this.ctx, this.store, this.lb, this.dns)] : []),
      ...(registrar ? [registrar.registrarChild(this.ctx, this.membership, this.store, this.registrar)] : []),
      // Service definitions from services.list and services.dir: this node's records, like the API's.
      serviceFilesChild(this.ctx, this.membership, this.store, this.serviceFiles, this.configFile),
      // Health checks of this node's endpoints (checks/): their results are in the records DNS and the LB read.
      checksChild(this.ctx, this.store, this.checks),
      ...(overlay ? [overlay.overlayChild(this.ctx, this.membership, this.store, this.overlay, this.dns)] : []),
      apiChild(this.ctx),
    ];
  }

  private routes(): void {
    const { api, registry, config } = this.ctx;
    // A component that is turned off says so, and how to turn it on, instead of a bare 404.
    const off: [string, boolean, string][] = [
      [
        '/v1/vips',
        config.lb.datapath === 'off',
        'the load balancer is off (lb.datapath off); start the agent with --lb-datapath auto',
      ],
      ['/v1/docker', !config.docker.enabled, 'the Docker registrar is off; start the agent with --docker true'],
      ['/v1/overlay', !config.overlay.enabled, 'the overlay is off; start the agent with --overlay true (needs root)'],
    ];
    for (const [path, isOff, why] of off) {
      if (isOff) api.route('GET', path, () => ({ status: 404, body: { error: why } }));
    }
    api.route('GET', '/v1/health', () => {
      const down = flatten(this.root.status()).filter((c) => c.state !== 'running' && c.state !== 'stopped');
      // A running registrar that cannot reach Docker registers nothing: not "ok".
      const docker = this.dockerProblem();
      return down.length || docker
        ? {
            status: 503,
            body: { status: 'degraded', down: down.map((c) => c.id), ...(docker ? { registrar: docker } : {}) },
          }
        : { body: { status: 'ok' } };
    });
    api.route('GET', '/v1/status', () => ({
      body: {
        node: config.node.name,
        version: VERSION,
        uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
        listening: Object.fromEntries(this.ctx.listening),
        components: this.root.status(),
        ...(config.docker.enabled ? { registrar: this.registrar.current?.status() ?? null } : {}),
      },
    }));
    api.route('GET', '/metrics', async () => {
      const parts = await Promise.all([registry, ...this.ctx.instanceRegistries].map((r) => r.metrics()));
      return { text: parts.join('\n'), contentType: registry.contentType };
    });
  }

  /** Why the Docker registrar is not doing its job although it runs, or undefined. */
  private dockerProblem(): string | undefined {
    const st = this.registrar.current?.status();
    if (!st || st.connected) return undefined;
    return `Docker unreachable at ${st.socket}${st.lastError ? `: ${st.lastError}` : ''}`;
  }

  /** Resolves with the addresses to print on the ready line once every component is ready. */
  async start(): Promise<Record<string, string>> {
    // With the "started" line of each component, what start-up spends on each (bench startup).
    this.ctx.log.debug('starting components');
    await this.root.start();
    return Object.fromEntries(this.ctx.listening);
  }

  /** `leave`: announce a graceful leave first (weft leave, SIGINT); without it the others see a failure, or nothing if we restart in time. */
  stop(opts: { leave: boolean }): Promise<void> {
    this.ctx.leaveOnStop = opts.leave;
    return this.root.stop();
  }

  /** Applies what can change at run time; reports what needs a restart. */
  reload(next: Config): { applied: string[]; needRestart: string[] } {
    const applied: string[] = [];
    const needRestart: string[] = [];
    const cur = this.ctx.config as unknown as Record<string, Record<string, unknown>>;
    const nxt = next as unknown as Record<string, Record<string, unknown>>;
    for (const section of Object.keys(nxt)) {
      for (const key of Object.keys(nxt[section]!)) {
        if (JSON.stringify(cur[section]![key]) === JSON.stringify(nxt[section]![key])) continue;
        const path = `${section}.${key}`;
        if (this.applyLive(path, next)) {
          cur[section]![key] = nxt[section]![key];
          applied.push(path);
        } else needRestart.push(path);
      }
    }
    return { applied, needRestart };
  }

  /** Changes one key in the running agent if that is safe; false when it needs a restart. */
  private applyLive(path: string, next: Config): boolean {
    if (path === 'log.level') {
      this.ctx.log.level = next.log.level;
      return true;
    }
    if (path === 'services.list' || path === 'services.dir') return true; // read by reloadServiceFiles
    if (path === 'tls.acceptUnsigned') return this.ctx.changeAuth !== undefined; // read live by changeAuth
    if (path === 'gossip.keys' || path === 'gossip.keyFile') {
      // Applied by reloadKeyring. Turning encryption on or off needs a restart (and a
      // rolling plan across the cluster).
      return this.ctx.keyring !== undefined && (next.gossip.keys.length > 0 || next.gossip.keyFile !== '');
    }
    return false;
  }

  /** SIGHUP: the service files again (src/service-files.ts); errors when the set was refused (nothing changed). */
  async reloadServiceFiles(): Promise<SyncResult> {
    const sync = this.serviceFiles.current?.sync;
    if (!sync) return { errors: ['service files not reloaded: the store is not running; see /v1/status'] };
    return sync();
  }

  /**
   * SIGHUP: a renewed certificate (same files, new contents) signs from now on. Throws
   * IdentityError for files that cannot be used (the running identity stays).
   */
  reloadIdentity(): boolean {
    const auth = this.ctx.changeAuth;
    const { tls, node } = this.ctx.config;
    if (!auth || !tls.caFile) return false;
    const id = loadIdentity(tls, node.name, Date.now());
    if (id.cert.fingerprint === auth.certFingerprint) return false;
    auth.setIdentity(id);
    this.ctx.log.info(
      { fingerprint: id.cert.fingerprint.slice(0, 16), notAfter: new Date(id.cert.notAfter).toISOString() },
      'identity: renewed node certificate in use',
    );
    return true;
  }

  /**
   * SIGHUP: the keyring follows the keyring file if there is one (an operator may have
   * edited it), else the configured keys; gossip and the store share it, so both rotate
   * at once. Throws KeyringFileError for a file that cannot be used (nothing changes).
   */
  reloadKeyring(): boolean {
    const ring = this.ctx.keyring;
    const g = this.ctx.config.gossip;
    if (!ring) return false;
    const keys = (g.keyFile ? readKeyringFile(g.keyFile) : undefined) ?? g.keys;
    if (!reconcileKeyring(ring, keys)) return false;
    this.keyringChanged();
    return true;
  }

  private keyringChanged(): void {
    const ring = this.ctx.keyring;
    const file = this.ctx.config.gossip.keyFile;
    if (ring && file) {
      try {
        writeKeyringFile(file, ring.keys());
      } catch (err) {
        this.ctx.log.error(
          { keyFile: file, err: (err as Error).message },
          `cannot write the keyring file ${file}: ${(err as Error).message}; a restart would start with the old keys`,
        );
      }
    }
    this.ctx.log.info({ keys: ring?.keys().length ?? 0 }, 'keyring changed (gossip and store)');
    for (const l of this.ctx.keyringListeners) l();
  }
}

function flatten(list: ReturnType<Supervisor['status']>): ReturnType<Supervisor['status']> {
  return list.flatMap((c) => [c, ...flatten(c.children ?? [])]);
}

function supervisorEventLogger(log: Logger, registry: Registry): (e: SupervisorEvent) => void {
  const restarts = new Counter({
    name: 'weft_component_restarts_total',
    help: 'Component restarts by the supervision tree',
    labelNames: ['component'],
    registers: [registry],
  });
  const crashes = new Counter({
    name: 'weft_component_crashes_total',
    help: 'Component crashes seen by the supervision tree',
    labelNames: ['component'],
    registers: [registry],
  });
  return (e) => {
    const where = `${e.supervisor}/${'id' in e ? e.id : ''}`;
    switch (e.type) {
      case 'child_started':
        log.debug({ component: where }, `${where} started`);
        break;
      case 'child_restarted':
        restarts.inc({ component: e.id });
        log.warn({ component: where, restarts: e.restarts }, `${where} restarted`);
        break;
      case 'child_crashed':
        crashes.inc({ component: e.id });
        log.error({ component: where, err: e.error.message, during: e.during }, `${where} failed: ${e.error.message}`);
        break;
      case 'child_killed':
        log.warn(
          { component: where, afterMs: e.afterMs },
          `${where} did not stop within ${e.afterMs}ms and was killed`,
        );
        break;
      case 'child_stop_failed':
        log.warn({ component: where, err: e.error.message }, `${where} failed to stop cleanly: ${e.error.message}`);
        break;
      case 'gave_up':
        log.error({ supervisor: e.supervisor, err: e.error.message }, e.error.message);
        break;
      default:
        log.debug({ component: where }, `${where} ${e.type.replace('child_', '')}`);
    }
  };
}

/** The node's identity from tls.caFile/certFile/keyFile (all or none, config.ts checks). */
function identityOf(config: LoadedConfig['config'], log: Logger): SignedChanges | undefined {
  const tls = config.tls;
  if (!tls.caFile) return undefined;
  const id = loadIdentity(tls, config.node.name, Date.now());
  log.info(
    { fingerprint: id.cert.fingerprint.slice(0, 16), notAfter: new Date(id.cert.notAfter).toISOString() },
    `identity: node certificate for ${id.name}; store changes are signed and checked`,
  );
  // The window is read at every unsigned change, so a SIGHUP that closes it applies at once.
  return new SignedChanges(id, { acceptUnsigned: () => config.tls.acceptUnsigned });
}

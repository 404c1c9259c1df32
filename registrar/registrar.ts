// The registrar: keeps this node's endpoint records in the store equal to what the local
// Docker engine runs. Level-triggered, like lb/ and overlay/: an event only says "look at
// container X again"; what is written comes from inspecting X now, never from the event
// itself, so events that arrive late, twice or out of order cannot leave a wrong record.
// A (re)connection looks at everything again: every running weft-labelled container, and
// every container this node holds a docker record for (one that is gone is removed).
//
// Ownership: it writes only this node's own records (svc/<service>/<this node>/<id>),
// only those with source 'docker' (records the API wrote are never touched), and only
// when the value differs from what the store holds.
//
// While the engine cannot be reached the records stay as they were: the registrar cannot
// tell a restarting engine from stopped containers, and the resync after reconnecting
// corrects them. The exception is start-up: records left from an earlier run that no
// engine can vouch for are removed when the first attempt to reach the engine fails.
import type { Registry } from 'prom-client';
import { Counter, Gauge } from 'prom-client';
import { parseEndpointKey, parseEndpointRecord, SERVICE_PREFIX, type EndpointRecord } from '../records/schema.js';
import { stampClaims } from '../lb/claims.js';
import { carryCheckStatus } from '../records/checks.js';
import { mapContainer, shortId, type InspectInfo } from './container.js';
import {
  EngineWatcher,
  describeEngineError,
  type EngineClient,
  type EngineEvent,
  type RegistrarLogger,
} from './engine.js';
import { hasWeftLabels, type LabelProblem } from './labels.js';
import type { BackoffOptions } from './backoff.js';
import type { Json } from '../crdt-store/json-value.js';

/**
 * The store as the registrar uses it. crdt-store's LocalStore (synchronous) and StoreNode
 * (promises) both fit. Writes go to this node's own records (never `shared`).
 */
export interface EndpointStore {
  get(key: string, opts?: { view?: 'live' | 'all' }): { value: unknown; owner: string } | undefined;
  keys(prefix: string, opts?: { view?: 'live' | 'all' }): string[];
  update(key: string, mutator: (current: Json | undefined) => Json | undefined, opts?: { durable?: boolean }): unknown;
  delete(key: string): unknown;
}

export interface RegistrarOptions {
  /** This node's name: owner of the records and part of their keys. */
  node: string;
  /** This node's address: the address of containers in network mode host. */
  nodeAddr?: string;
  /** Why a literal VIP in a label is refused (lb/vip-guard.ts), reported like other bad labels. */
  checkVip?: (vip: string) => string | undefined;
  /** Take weft.check.script labels, to run inside their container (checks.allowContainerScripts). */
  containerScripts?: boolean;
  store: EndpointStore;
  logger: RegistrarLogger;
  /**
   * The engine's unix socket (a path, or unix:///path). Default: DOCKER_HOST when it is a
   * unix:// URL, else /var/run/docker.sock.
   */
  socket?: string;
  /** prom-client registry for the weft_registrar_* metrics. */
  registry?: Registry;
  /** Reconnect delays; default 0.5 s doubling to 30 s, +-20 % jitter. */
  backoff?: BackoffOptions;
  /** Limit for each request to the engine other than the event stream. Default 10 s. */
  requestTimeoutMs?: number;
  /** Environment to read DOCKER_HOST from (tests). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface RegistrarStatus {
  socket: string;
  connected: boolean;
  /** Containers that have a record now. */
  containers: number;
  /** Why the engine cannot be reached (or the last resync failed); undefined while all is well. */
  lastError: string | undefined;
  /** When the last full resync finished (ISO time), if any. */
  lastSync: string | undefined;
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';
// How many inspects run at once during a resync: enough to hide the engine's latency,
// few enough not to queue hundreds of requests on it.
const CONCURRENCY = 8;

/** The socket to use, and a warning when DOCKER_HOST was set to something that is not one. */
export function resolveSocket(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { socket: string; warning?: string } {
  const strip = (s: string) => (s.startsWith('unix://') ? s.slice('unix://'.length) : s);
  if (explicit) return { socket: strip(explicit) };
  const host = env.DOCKER_HOST;
  if (!host) return { socket: DEFAULT_SOCKET };
  if (host.startsWith('unix://') && host.length > 'unix://'.length) return { socket: strip(host) };
  return {
    socket: DEFAULT_SOCKET,
    warning: `DOCKER_HOST=${host} is not a unix:// socket; the registrar watches the local engine at ${DEFAULT_SOCKET}`,
  };
}

function metric<T>(registry: Registry | undefined, name: string, make: (registers: Registry[]) => T): T {
  // A restarted registrar (supervisor) registers on the same registry again: reuse.
  const existing = registry?.getSingleMetric(name);
  return (existing as T | undefined) ?? make(registry ? [registry] : []);
}

interface Metrics {
  containers: Gauge;
  connected: Gauge;
  events: Counter<'action'>;
  labelErrors: Counter;
  reconnects: Counter;
}

function makeMetrics(registry: Registry | undefined): Metrics {
  return {
    containers: metric(
      registry,
      'weft_registrar_containers',
      (registers) =>
        new Gauge({
          name: 'weft_registrar_containers',
          help: 'Docker containers this node has endpoint records for',
          registers,
        }),
    ),
    connected: metric(
      registry,
      'weft_registrar_connected',
      (registers) =>
        new Gauge({ name: 'weft_registrar_connected', help: '1 while the Docker engine is connected', registers }),
    ),
    events: metric(
      registry,
      'weft_registrar_events_total',
      (registers) =>
        new Counter({
          name: 'weft_registrar_events_total',
          help: 'Docker events received, by action',
          labelNames: ['action'] as const,
          registers,
        }),
    ),
    labelErrors: metric(
      registry,
      'weft_registrar_label_errors_total',
      (registers) =>
        new Counter({
          name: 'weft_registrar_label_errors_total',
          help: 'weft.* container labels refused (counted once per container)',
          registers,
        }),
    ),
    reconnects: metric(
      registry,
      'weft_registrar_reconnects_total',
      (registers) =>
        new Counter({
          name: 'weft_registrar_reconnects_total',
          help: 'Times the Docker engine could not be reached or was lost and a new attempt was scheduled',
          registers,
        }),
    ),
  };
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka)
    if (
      !Object.prototype.hasOwnProperty.call(b, k) ||
      !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    )
      return false;
  return true;
}

function describeProblems(reason: string | undefined, problems: LabelProblem[]): string {
  const parts = problems.map((p) =>
    p.label === 'weft.service' && p.value === '' ? p.reason : `${p.label}=${JSON.stringify(p.value)}: ${p.reason}`,
  );
  return [reason ? `left out (${reason})` : undefined, ...parts].filter(Boolean).join('; ');
}

export class Registrar {
  private readonly opts: RegistrarOptions;
  readonly socket: string;
  private readonly log: RegistrarLogger;
  private readonly metrics: Metrics;
  private readonly watcher: EngineWatcher;

  /** container id -> the key of its record in the store. */
  private readonly index = new Map<string, string>();
  /** Running containers with weft labels (with or without a record): network events about them matter. */
  private readonly watched = new Set<string>();
  /** Containers whose refused labels were logged; forgotten when the container is gone. */
  private readonly reported = new Set<string>();

  private client: EngineClient | undefined;
  private readonly pending = new Set<string>();
  private readonly active = new Set<string>();
  private readonly again = new Set<string>();
  private readonly failed = new Set<string>();
  private idle: (() => void)[] = [];
  private lastSync: string | undefined;
  private resyncError: string | undefined;
  private stopped = false;
  private syncing = false;

  private constructor(opts: RegistrarOptions) {
    this.opts = opts;
    this.log = opts.logger;
    const { socket, warning } = resolveSocket(opts.socket, opts.env);
    this.socket = socket;
    if (warning) this.log.warn({ socket }, warning);
    this.metrics = makeMetrics(opts.registry);
    this.metrics.connected.set(0);
    this.watcher = new EngineWatcher({
      socket,
      logger: opts.logger,
      backoff: opts.backoff,
      requestTimeoutMs: opts.requestTimeoutMs,
      handlers: {
        onEvent: (e) => this.onEvent(e),
        onConnected: (client) => this.resync(client),
        onDisconnected: () => {
          this.client = undefined;
          this.metrics.connected.set(0);
        },
        onRetry: () => this.metrics.reconnects.inc(),
      },
    });
  }

  /**
   * Starts watching the engine. Resolves once the first attempt has connected and synced
   * the records, or has failed (it then keeps retrying in the background). Never rejects
   * because Docker is missing or down.
   */
  static async start(opts: RegistrarOptions): Promise<Registrar> {
    const r = new Registrar(opts);
    await r.watcher.start();
    if (!r.watcher.connected && !r.stopped) await r.dropStale();
    return r;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher.stop();
    this.client = undefined;
    await this.drained();
    this.metrics.connected.set(0);
  }

  status(): RegistrarStatus {
    return {
      socket: this.socket,
      connected: this.watcher.connected && this.client !== undefined,
      containers: this.index.size,
      lastError: this.watcher.lastError ?? this.resyncError,
      lastSync: this.lastSync,
    };
  }

  // ------------------------------------------------------------ engine side

  private onEvent(e: EngineEvent): void {
    this.metrics.events.inc({ action: e.action });
    // Unlabelled containers come and go by the hundred on a busy host; only those that
    // are or were weft's are inspected.
    const ours = this.index.has(e.id) || this.watched.has(e.id) || (e.type === 'container' && hasWeftLabels(e.labels));
    if (ours) this.schedule(e.id);
  }

  private async resync(client: EngineClient): Promise<void> {
    this.client = client;
    this.metrics.connected.set(1);
    this.syncing = true;
    try {
      this.loadIndex();
      const all = await client.listContainers();
      const ids = new Set<string>([...this.index.keys(), ...this.watched, ...this.failed]);
      this.failed.clear();
      for (const c of all) if (c.running && hasWeftLabels(c.labels)) ids.add(c.id);
      // Forget what was reported about containers removed while we were not listening
      // (their destroy event was missed); those that still exist stay reported.
      const exists = new Set(all.map((c) => c.id));
      for (const id of this.reported) if (!exists.has(id)) this.reported.delete(id);
      for (const id of ids) this.schedule(id);
      await this.drained();
    } finally {
      this.syncing = false;
    }
    if (this.failed.size > 0) {
      // The engine failed some inspects (it is probably going away): reconnect and redo.
      throw new Error(this.resyncError ?? 'inspect failed');
    }
    this.resyncError = undefined;
    this.lastSync = new Date().toISOString();
    this.metrics.containers.set(this.index.size);
    this.log.info(
      { containers: this.index.size, watched: this.watched.size },
      `in sync with Docker: ${this.index.size} container(s) registered`,
    );
  }

  // ------------------------------------------------------------ work queue

  private schedule(id: string): void {
    if (this.active.has(id)) this.again.add(id);
    else this.pending.add(id);
    this.pump();
  }

  private pump(): void {
    const client = this.client;
    while (client && !this.stopped && this.active.size < CONCURRENCY && this.pending.size > 0) {
      const id = this.pending.values().next().value as string;
      this.pending.delete(id);
      this.active.add(id);
      void this.look(id, client).finally(() => {
        this.active.delete(id);
        if (this.again.delete(id)) this.pending.add(id);
        this.pump();
      });
    }
    if (this.active.size === 0 && (this.pending.size === 0 || !this.client || this.stopped)) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }

  private drained(): Promise<void> {
    if (this.active.size === 0 && (this.pending.size === 0 || !this.client)) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async look(id: string, client: EngineClient): Promise<void> {
    let info: InspectInfo | undefined;
    try {
      info = await client.inspect(id);
    } catch (err) {
      // Looked at again on the next resync; the connection is dropped to force one unless
      // this is already part of a resync (which then fails and reconnects).
      this.failed.add(id);
      this.resyncError = describeEngineError(err, this.socket);
      this.log.debug({ container: shortId(id), reason: this.resyncError }, 'inspect failed');
      if (!this.syncing) this.watcher.drop(this.resyncError);
      return;
    }
    try {
      await this.apply(id, info);
    } catch (err) {
      // A store refusal (value over the limits, say) must not stop the registrar.
      this.log.error(
        { container: shortId(id), err: err instanceof Error ? err.message : String(err) },
        `cannot write the endpoint record of container ${shortId(id)}`,
      );
    }
  }

  // ------------------------------------------------------------ store side

  private async apply(id: string, info: InspectInfo | undefined): Promise<void> {
    if (this.stopped) return;
    const mapped = info
      ? mapContainer(info, {
          node: this.opts.node,
          nodeAddr: this.opts.nodeAddr,
          checkVip: this.opts.checkVip,
          containerScripts: this.opts.containerScripts,
        })
      : ({ kind: 'none' } as const);
    if (!info) this.reported.delete(id);
    const name = (info?.Name ?? '').replace(/^\//, '') || shortId(id);
    if (mapped.kind === 'none') this.watched.delete(id);
    else this.watched.add(id);
    if (mapped.kind !== 'none' && !this.reported.has(id)) {
      const reason = mapped.kind === 'invalid' ? mapped.reason : undefined;
      if (reason || mapped.problems.length > 0) {
        this.reported.add(id);
        this.metrics.labelErrors.inc(mapped.problems.length);
        this.log.warn(
          { container: shortId(id), name, problems: mapped.problems },
          `Docker container ${name} (${shortId(id)}): ${describeProblems(reason, mapped.problems)}`,
        );
      }
    }
    const old = this.index.get(id);
    if (mapped.kind === 'endpoint') {
      if (old !== undefined && old !== mapped.key) await this.remove(old);
      this.index.set(id, mapped.key);
      await this.write(mapped.key, mapped.record);
      // Once per container (and again only if its record moves to another key).
      if (old !== mapped.key)
        this.log.info(
          { container: shortId(id), name, key: mapped.key },
          `registered Docker container ${name} as ${mapped.record.service}`,
        );
    } else if (old !== undefined) {
      this.index.delete(id);
      await this.remove(old);
      this.log.info(
        { container: shortId(id), name, key: old },
        `deregistered Docker container ${name} (${info ? 'no longer labelled or running' : 'gone'})`,
      );
    }
    this.metrics.containers.set(this.index.size);
  }

  private async write(key: string, mapped: EndpointRecord): Promise<void> {
    const cur = this.opts.store.get(key, { view: 'all' });
    // VIP claims: kept from the record this one replaces, else the VIP's current claim, else now (lb/claims.ts).
    const prev = parseEndpointRecord(cur?.value);
    const record = { ...mapped, vips: stampClaims(mapped.vips, prev?.vips, this.opts.store, Date.now()) };
    // The checker's findings survive a rewrite of the record (a Docker event): records/checks.ts.
    if (mapped.checks) record.checks = carryCheckStatus(mapped.checks, prev?.checks);
    if (cur && cur.owner === this.opts.node && sameJson(cur.value, record)) return;
    // The record is plain JSON already (strings, numbers, arrays, objects).
    const value = record as unknown as Json;
    await this.opts.store.update(key, () => value);
  }

  private async remove(key: string): Promise<void> {
    if (this.isOwnDockerRecord(key)) await this.opts.store.delete(key);
  }

  private isOwnDockerRecord(key: string): boolean {
    const cur = this.opts.store.get(key, { view: 'all' });
    if (!cur || cur.owner !== this.opts.node) return false;
    const v = cur.value as { source?: unknown } | null;
    return typeof v === 'object' && v !== null && v.source === 'docker';
  }

  /** The own docker records in the store -> the index (after a restart it only has the store to go by). */
  private loadIndex(): void {
    const stale: string[] = [];
    for (const key of this.opts.store.keys(SERVICE_PREFIX, { view: 'all' })) {
      const parts = parseEndpointKey(key);
      if (!parts || parts.node !== this.opts.node || !this.isOwnDockerRecord(key)) continue;
      const container = (this.opts.store.get(key, { view: 'all' })!.value as { container?: unknown }).container;
      const known = typeof container === 'string' ? this.index.get(container) : undefined;
      if (typeof container !== 'string' || container === '' || (known !== undefined && known !== key)) stale.push(key);
      else this.index.set(container, key);
    }
    for (const key of stale) void Promise.resolve(this.opts.store.delete(key)).catch(() => {});
  }

  /** Start-up without an engine: remove the docker records an earlier run left. */
  private async dropStale(): Promise<void> {
    const keys = this.opts.store
      .keys(SERVICE_PREFIX, { view: 'all' })
      .filter((k) => parseEndpointKey(k)?.node === this.opts.node && this.isOwnDockerRecord(k));
    if (keys.length === 0) return;
    for (const k of keys) {
      if (this.client) return; // the engine came up meanwhile: the resync decides
      await this.opts.store.delete(k);
    }
    this.log.info(
      { removed: keys.length },
      `removed ${keys.length} Docker endpoint record(s) left from an earlier run: no engine to confirm the containers run`,
    );
  }
}

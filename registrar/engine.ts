// The connection to the local Docker engine: the only module here that does I/O with it.
//
// Each connection: ask the engine's version (is anyone there?), subscribe to the event
// stream, and only then hand the client to onConnected for a full resync. Subscribing
// first means nothing that happens while the resync lists containers is missed: it arrives
// as an event and is looked at again after. When the stream ends (engine stopped or
// restarted) or anything fails, it waits with backoff and does all of it again.
//
// What a person sees in the log, however long the engine stays away: one line when it
// cannot be reached (and again only if the reason changes), one line when it is reached.
import type Docker from 'dockerode';
import { stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { InspectInfo } from './container.js';
import type { Log } from '../base/log.js';

/** The component's log (base/log.ts). */
export type RegistrarLogger = Log;

export interface EngineEvent {
  type: 'container' | 'network';
  /** Docker's action; for health, the part before the colon ('health_status'). */
  action: string;
  /** The container it concerns (for a network event, the container connected or disconnected). */
  id: string;
  /** The container's labels (container events only; network events carry none). */
  labels: Record<string, string>;
}

export interface ListedContainer {
  id: string;
  labels: Record<string, string>;
  running: boolean;
}

/** The engine as the registrar uses it during one connection. */
export interface EngineClient {
  /** Every container the engine has, running or not. */
  listContainers(): Promise<ListedContainer[]>;
  /** undefined when there is no such container (any more). */
  inspect(id: string): Promise<InspectInfo | undefined>;
}

export interface EngineHandlers {
  onEvent(e: EngineEvent): void;
  /** Resync; a rejection drops the connection and retries. */
  onConnected(client: EngineClient, info: { version: string }): Promise<void>;
  onDisconnected(reason: string): void;
  /** The connection attempt failed or was lost and another one is scheduled. */
  onRetry?(reason: string): void;
}

export interface EngineWatcherOptions {
  socket: string;
  logger: RegistrarLogger;
  handlers: EngineHandlers;
  backoff?: BackoffOptions;
  /** Limit for each list/inspect/version request (the event stream has none). Default 10 s. */
  requestTimeoutMs?: number;
}

// Container actions that can change whether a container has a record, or what is in it.
// health_status matches 'health_status: healthy' etc. (the engine filters on the part
// before the colon). connect/disconnect are network events naming the container.
export const CONTAINER_ACTIONS = ['start', 'die', 'stop', 'destroy', 'pause', 'unpause', 'health_status'];
export const NETWORK_ACTIONS = ['connect', 'disconnect'];

const MAX_LINE = 1 << 20;

/**
 * dockerode, loaded once an engine's socket exists. It pulls in ssh2, grpc and protobufjs:
 * measured here about 12 MB of RSS and a third of an agent's start-up, which a node without
 * Docker never needs. A missing socket is ENOENT, "no Docker engine at ..." as before.
 */
export async function loadDockerode(socket: string): Promise<typeof Docker> {
  await stat(socket);
  return importDockerode();
}

/** dockerode itself; a failure to load it says so, for the log line of the component that wanted it. */
export async function importDockerode(): Promise<typeof Docker> {
  try {
    return (await import('dockerode')).default;
  } catch (e) {
    throw new Error(`cannot load the Docker client (dockerode): ${(e as Error).message}`, { cause: e });
  }
}

/** A short reason for a person: what is wrong with reaching the engine and what to do. */
export function describeEngineError(err: unknown, socket: string): string {
  const e = err as NodeJS.ErrnoException & { statusCode?: number; reason?: string };
  switch (e?.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return `no Docker engine at ${socket}`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to use ${socket}; run weft as root or as a member of the docker group`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `the Docker engine at ${socket} closed the connection`;
    case 'ABORT_ERR':
      return `the Docker engine at ${socket} did not answer in time`;
  }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return `the Docker engine at ${socket} did not answer in time`;
  if (typeof e?.statusCode === 'number')
    return `the Docker engine at ${socket} answered ${e.statusCode}${e.reason ? ` (${e.reason})` : ''}`;
  const msg = err instanceof Error ? err.message : String(err);
  return `cannot use the Docker engine at ${socket}: ${msg.split('\n')[0]}`;
}

const AWAY = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ABORT_ERR']);

/** The engine is not there or went away (as opposed to refusing us); undefined: a stream that ended. */
function isAway(err: unknown): boolean {
  if (err === undefined) return true;
  const e = err as { code?: string; name?: string };
  return AWAY.has(e?.code ?? '') || e?.name === 'TimeoutError' || e?.name === 'AbortError';
}

function parseEvent(line: string): EngineEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { Type?: unknown; Action?: unknown; Actor?: { ID?: unknown; Attributes?: unknown } };
  if (o.Type !== 'container' && o.Type !== 'network') return undefined;
  if (typeof o.Action !== 'string' || typeof o.Actor !== 'object' || o.Actor === null) return undefined;
  const attrs =
    typeof o.Actor.Attributes === 'object' && o.Actor.Attributes !== null
      ? (o.Actor.Attributes as Record<string, unknown>)
      : {};
  const action = o.Action.split(':')[0];
  if (o.Type === 'network') {
    return typeof attrs.container === 'string'
      ? { type: 'network', action, id: attrs.container, labels: {} }
      : undefined;
  }
  if (typeof o.Actor.ID !== 'string') return undefined;
  const labels: Record<string, string> = {};
  for (const [k, val] of Object.entries(attrs)) if (typeof val === 'string') labels[k] = val;
  return { type: 'container', action, id: o.Actor.ID, labels };
}

export class EngineWatcher {
  private readonly opts: EngineWatcherOptions;
  private readonly backoff: Backoff;
  private readonly requestTimeoutMs: number;
  private readonly stopCtl = new AbortController();
  private docker: Docker | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stream: IncomingMessage | undefined;
  private _connected = false;
  private _lastError: string | undefined;
  private dropReason: string | undefined;
  /** The outage reason last logged, so a long outage is one line. */
  private logged: string | undefined;
  private firstAttempt: Promise<void>;
  private firstAttemptDone!: () => void;

  constructor(opts: EngineWatcherOptions) {
    this.opts = opts;
    this.backoff = new Backoff(opts.backoff);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.firstAttempt = new Promise((r) => (this.firstAttemptDone = r));
  }

  get connected(): boolean {
    return this._connected;
  }

  get lastError(): string | undefined {
    return this._lastError;
  }

  /** Starts connecting; resolves once the first attempt connected and resynced, or failed. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.firstAttempt;
  }

  /** Ends the current connection (a new one, with a full resync, follows after backoff). */
  drop(reason: string): void {
    if (!this.stream) return;
    this.dropReason = reason;
    this.stream.destroy();
  }

  async stop(): Promise<void> {
    this.stopCtl.abort();
    this.stream?.destroy();
    this.wake?.();
    await this.loop;
  }

  private get stopped(): boolean {
    return this.stopCtl.signal.aborted;
  }

  private signal(): AbortSignal {
    return AbortSignal.any([this.stopCtl.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
  }

  private client(docker: Docker): EngineClient {
    return {
      listContainers: async () => {
        const list = await docker.listContainers({ all: true, abortSignal: this.signal() });
        return list.map((c) => ({
          id: c.Id,
          labels: c.Labels ?? {},
          running: c.State === 'running' || c.State === 'paused',
        }));
      },
      inspect: async (id) => {
        try {
          return (await docker.getContainer(id).inspect({ abortSignal: this.signal() })) as InspectInfo;
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode === 404) return undefined;
          throw err;
        }
      },
    };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let reason: string;
      let err: unknown;
      try {
        await this.session();
        reason = this.dropReason ?? `the Docker engine at ${this.opts.socket} closed its event stream`;
      } catch (e) {
        err = e;
        reason = describeEngineError(e, this.opts.socket);
      }
      this.stream = undefined;
      this.dropReason = undefined;
      if (this.stopped) break;
      const wasConnected = this._connected;
      this._connected = false;
      this._lastError = reason;
      this.firstAttemptDone();
      if (wasConnected) this.opts.handlers.onDisconnected(reason);
      this.opts.handlers.onRetry?.(reason);
      // The ways an engine is simply away (not there, restarting, hung up) are one story:
      // told once per outage. A different kind of trouble (permissions) is told too.
      const story = isAway(err) ? 'away' : reason;
      if (wasConnected || story !== this.logged) {
        this.opts.logger.warn(
          { socket: this.opts.socket, reason },
          wasConnected
            ? `connection to the Docker engine lost: ${reason}; reconnecting with backoff`
            : `${reason}; retrying with backoff (up to ${Math.round((this.opts.backoff?.maxMs ?? 30_000) / 1000)} s apart)`,
        );
        this.logged = story;
      } else {
        this.opts.logger.debug({ socket: this.opts.socket, reason }, 'Docker engine still unreachable');
      }
      await this.sleep(this.backoff.next());
    }
    this._connected = false;
    this.firstAttemptDone();
  }

  /** One connection: resolves when the event stream ends; rejects when anything fails. */
  private async session(): Promise<void> {
    // Read DOCKER_HOST's quirks out: the socket is resolved by the caller, and a tcp
    // DOCKER_HOST must not redirect a registrar that is meant for the local engine.
    this.docker ??= new (await loadDockerode(this.opts.socket))({
      socketPath: this.opts.socket,
      host: undefined,
      port: undefined,
      protocol: 'http',
      timeout: undefined,
    } as Docker.DockerOptions);
    const docker = this.docker;
    // The typings know no options for version(); dockerode takes an abortSignal there too.
    const version = await (docker.version as (o: { abortSignal: AbortSignal }) => Promise<Docker.DockerVersion>).call(
      docker,
      { abortSignal: this.signal() },
    );
    const events: Docker.GetEventsOptions & { abortSignal: AbortSignal } = {
      filters: { type: ['container', 'network'], event: [...CONTAINER_ACTIONS, ...NETWORK_ACTIONS] },
      abortSignal: this.stopCtl.signal,
    };
    const stream = (await docker.getEvents(events)) as IncomingMessage;
    this.stream = stream;
    const ended = new Promise<void>((resolve, reject) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const ev = parseEvent(line);
          if (ev) this.opts.handlers.onEvent(ev);
          else this.opts.logger.debug({ line: line.slice(0, 200) }, 'Docker event not understood; ignored');
        }
        // A line this long is not an event; dropping it keeps memory bounded.
        if (buf.length > MAX_LINE) buf = '';
      });
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      stream.on('error', (err) => reject(err));
    });
    // The stream must not take the process down if it errors before `ended` is awaited.
    ended.catch(() => {});
    if (this.stopped) return;
    this._connected = true;
    this._lastError = undefined;
    this.logged = undefined;
    this.opts.logger.info(
      { socket: this.opts.socket, version: version.Version },
      `connected to the Docker engine at ${this.opts.socket} (Docker ${version.Version})`,
    );
    try {
      await this.opts.handlers.onConnected(this.client(docker), { version: String(version.Version) });
    } catch (err) {
      stream.destroy();
      throw err;
    }
    // Only a connection that got as far as a full resync resets the delay, so an engine
    // that accepts and then drops every connection is retried ever more slowly.
    this.backoff.reset();
    this.firstAttemptDone();
    await ended;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

// Keeps the Docker network `weft` in line with this node's lease (docker.ts plans it; this
// file reads the engine, applies the steps and reports). It runs on the shared reconcile
// runner: a pass after every overlay pass that held a lease (request()), and a full one
// every period, which recreates a network deleted by hand. An engine that is down is a
// failed pass, retried with backoff, never fatal: the overlay itself works without Docker.
import type Dockerode from 'dockerode';
import { ReconcileRunner, type ReconcileStatus } from '../base/reconcile-runner.js';
import { overlayRunnerTimings } from './defaults.js';
import {
  planDockerNetwork,
  type DockerNetworkActual,
  type DockerNetworkStep,
  type DockerNetworkVerdict,
  type DockerNetworkWant,
} from './docker.js';
import type { OverlayLog } from './driver.js';

/** The engine calls the keeper makes: a thin dockerode wrapper (DockerodeNetworks) or a test's fake. */
export interface DockerNetworks {
  inspect(name: string): Promise<DockerNetworkActual | undefined>;
  apply(name: string, step: DockerNetworkStep): Promise<void>;
}

export class DockerodeNetworks implements DockerNetworks {
  constructor(private readonly docker: Dockerode) {}

  async inspect(name: string): Promise<DockerNetworkActual | undefined> {
    // The name filter matches substrings: pick the exact name.
    const list = await this.docker.listNetworks({ filters: { name: [name] } });
    const found = list.find((n) => n.Name === name);
    if (!found) return undefined;
    const n = (await this.docker.getNetwork(found.Id).inspect()) as Dockerode.NetworkInspectInfo;
    const c = n.IPAM?.Config?.[0];
    return {
      id: n.Id,
      subnet: c?.Subnet,
      gateway: c?.Gateway,
      options: n.Options ?? {},
      labels: n.Labels ?? {},
      containers: Object.entries(n.Containers ?? {}).map(([id, v]) => ({ id, name: v.Name })),
    };
  }

  async apply(name: string, step: DockerNetworkStep): Promise<void> {
    switch (step.kind) {
      case 'create':
        await this.docker.createNetwork(step.plan);
        return;
      case 'remove':
        await this.docker.getNetwork(step.network).remove();
        return;
      case 'disconnect':
        await this.docker.getNetwork(step.network).disconnect({ Container: step.container, Force: true });
        return;
      case 'connect':
        await this.docker.getNetwork(name).connect({ Container: step.container });
        return;
    }
  }
}

export interface DockerNetworkStatus {
  name: string;
  /** in-line, or what the last pass found: missing (created), moved (recreated), foreign (left alone). */
  verdict: DockerNetworkVerdict | 'waiting' | null;
  id: string | null;
  subnet: string | null;
  gateway: string | null;
  containers: number;
  created: number;
  moved: number;
  /** Containers that could not be put back on the network after a move, by name. */
  notReconnected: string[];
  /** Containers taken off while no subnet is held (verdict withdrawn), by name: put back once a lease returns. */
  parked: string[];
  lastReconcile: ReconcileStatus | null;
}

export interface DockerNetworkKeeperOptions {
  engine: DockerNetworks;
  /** The network's name (the plan's Name). */
  name: string;
  /** The network wanted now; 'withdraw' when the lease was lost and none is free; undefined while there is no decision yet. */
  want: () => DockerNetworkWant | undefined;
  log: OverlayLog;
  everyMs: number;
}

export class DockerNetworkKeeper {
  private readonly runner: ReconcileRunner;
  private readonly st: DockerNetworkStatus;
  private lastProblem = '';
  /** Containers taken off by a withdrawal, id to name, until a lease returns. */
  private readonly parked = new Map<string, string>();

  constructor(private readonly opts: DockerNetworkKeeperOptions) {
    this.st = {
      name: '',
      verdict: null,
      id: null,
      subnet: null,
      gateway: null,
      containers: 0,
      created: 0,
      moved: 0,
      notReconnected: [],
      parked: [],
      lastReconcile: null,
    };
    this.runner = new ReconcileRunner({
      pass: () => this.pass(),
      ...overlayRunnerTimings(opts.everyMs),
      onPass: (s) => {
        this.st.lastReconcile = s;
        if (s.ok) this.lastProblem = '';
        else this.problem(`overlay: the Docker network: ${s.error ?? 'failed'}`);
      },
    });
  }

  start(): void {
    this.runner.start();
    this.runner.request();
  }

  request(): void {
    this.runner.request();
  }

  async runNow(): Promise<void> {
    await this.runner.runNow(true);
  }

  async stop(): Promise<void> {
    await this.runner.stop();
  }

  status(): DockerNetworkStatus {
    return structuredClone(this.st);
  }

  private async pass(): Promise<{ changed: boolean }> {
    const want = this.opts.want();
    if (!want) {
      this.st.verdict = 'waiting';
      return { changed: false };
    }
    const name = this.opts.name;
    this.st.name = name;
    const actual = await this.opts.engine.inspect(name);
    const { verdict, steps } = planDockerNetwork(want, actual, [...this.parked.keys()]);
    this.st.verdict = verdict;
    if (verdict === 'foreign')
      this.problem(
        `overlay: a Docker network "${name}" exists that weft did not create; remove it (docker network rm ${name}) so weft can make its own`,
      );
    if (verdict === 'withdrawn') for (const c of actual?.containers ?? []) this.parked.set(c.id, c.name);
    if (steps.length > 0) await this.applySteps(want, verdict, steps);
    this.st.parked = [...this.parked.values()].sort();
    const now = steps.length > 0 ? await this.opts.engine.inspect(name) : actual;
    this.st.id = now?.id ?? null;
    this.st.subnet = now?.subnet ?? null;
    this.st.gateway = now?.gateway ?? null;
    this.st.containers = now?.containers.length ?? 0;
    return { changed: steps.length > 0 };
  }

  private async applySteps(want: DockerNetworkWant, verdict: DockerNetworkVerdict, steps: DockerNetworkStep[]) {
    const failedConnects: string[] = [];
    const unparked: string[] = [];
    for (const s of steps) {
      try {
        await this.opts.engine.apply(this.opts.name, s);
      } catch (err) {
        // A container removed meanwhile cannot be put back; the others still can.
        if (s.kind !== 'connect') throw err;
        failedConnects.push(this.parked.get(s.container) ?? s.container.slice(0, 12));
        this.parked.delete(s.container);
        continue;
      }
      if (s.kind !== 'connect' || !this.parked.has(s.container)) continue;
      unparked.push(this.parked.get(s.container)!);
      this.parked.delete(s.container);
    }
    if (verdict === 'missing') this.st.created++;
    if (verdict === 'moved') this.st.moved++;
    this.st.notReconnected = failedConnects;
    this.opts.log.warn(
      {
        network: this.opts.name,
        subnet: want === 'withdraw' ? null : want.IPAM.Config[0].Subnet,
        verdict,
        notReconnected: failedConnects,
        parked: [...this.parked.values()],
        unparked,
      },
      MESSAGES[verdict],
    );
  }

  private problem(msg: string): void {
    if (msg === this.lastProblem) return;
    this.lastProblem = msg;
    this.opts.log.warn({}, msg);
  }
}

const MESSAGES: Record<DockerNetworkVerdict, string> = {
  moved: 'overlay: the lease moved: Docker network recreated on the new subnet and its containers reconnected',
  missing: 'overlay: Docker network created on the lease',
  'in-line': 'overlay: containers taken off while no subnet was held are back on the Docker network',
  withdrawn:
    'overlay: no subnet held (lost to an earlier claim, none free): Docker network removed and its containers taken off until a lease returns',
  foreign: "overlay: the Docker network is not weft's",
};

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
  type DockerNetworkPlan,
  type DockerNetworkStep,
  type DockerNetworkVerdict,
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
  lastReconcile: ReconcileStatus | null;
}

export interface DockerNetworkKeeperOptions {
  engine: DockerNetworks;
  /** The network wanted now, or undefined while the overlay holds no lease. */
  want: () => DockerNetworkPlan | undefined;
  log: OverlayLog;
  everyMs: number;
}

export class DockerNetworkKeeper {
  private readonly runner: ReconcileRunner;
  private readonly st: DockerNetworkStatus;
  private lastProblem = '';

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
    this.st.name = want.Name;
    const actual = await this.opts.engine.inspect(want.Name);
    const { verdict, steps } = planDockerNetwork(want, actual);
    this.st.verdict = verdict;
    if (verdict === 'foreign')
      this.problem(
        `overlay: a Docker network "${want.Name}" exists that weft did not create; remove it (docker network rm ${want.Name}) so weft can make its own`,
      );
    if (steps.length > 0) await this.applySteps(want, verdict, steps);
    const now = steps.length > 0 ? await this.opts.engine.inspect(want.Name) : actual;
    this.st.id = now?.id ?? null;
    this.st.subnet = now?.subnet ?? null;
    this.st.gateway = now?.gateway ?? null;
    this.st.containers = now?.containers.length ?? 0;
    return { changed: steps.length > 0 };
  }

  private async applySteps(want: DockerNetworkPlan, verdict: DockerNetworkVerdict, steps: DockerNetworkStep[]) {
    const failedConnects: string[] = [];
    for (const s of steps) {
      try {
        await this.opts.engine.apply(want.Name, s);
      } catch (err) {
        // A container removed meanwhile cannot be put back; the others still can.
        if (s.kind !== 'connect') throw err;
        failedConnects.push(s.container.slice(0, 12));
      }
    }
    if (verdict === 'missing') this.st.created++;
    if (verdict === 'moved') this.st.moved++;
    this.st.notReconnected = failedConnects;
    this.opts.log.warn(
      { network: want.Name, subnet: want.IPAM.Config[0].Subnet, verdict, notReconnected: failedConnects },
      verdict === 'moved'
        ? 'overlay: the lease moved: Docker network recreated on the new subnet and its containers reconnected'
        : 'overlay: Docker network created on the lease',
    );
  }

  private problem(msg: string): void {
    if (msg === this.lastProblem) return;
    this.lastProblem = msg;
    this.opts.log.warn({}, msg);
  }
}

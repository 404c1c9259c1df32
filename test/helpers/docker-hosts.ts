// Hosts with Docker on the overlay, for the docker-overlay system test and `bench hosts`:
// three host namespaces on one underlay (hosts.ts), a private dockerd in each (docker.ts,
// iptables on inside the namespace) and a `weft agent --overlay true` in each, which makes
// the Docker network `weft` on its lease. Containers run busybox `nc` answering their own
// name on SERVICE_PORT, labelled as a service of that name and as backends of VIP web.
import { CLI, FAST_GOSSIP_FLAGS, type Teardown } from './agent-process.js';
import { Hosts, sh, type Host } from './hosts.js';
import { dockerSkip, startDocker, type DockerEngine } from './docker.js';
import { eventually } from './eventually.js';
import { AGENT_NODE_FLAGS } from '../../src/node-flags.js';
import type { ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import { contains, parsePrefix } from '../../overlay/cidr.js';

export const SERVICE_PORT = '7000';

/** What differs for one agent from the usual (test/helpers docker-hosts' defaults). */
export interface AgentVariant {
  /** Node name; default dh<index>. */
  node?: string;
  /** Join the other hosts at start; default true. */
  join?: boolean;
  /** More flags (they come last, so a repeated scalar flag wins). */
  extra?: readonly string[];
}

export interface DockerHostsOptions {
  /** Hosts with a dockerd: the first `engines` (default all); the others run their agent with --docker false. */
  engines?: number;
  /** Start every agent at once (default); false: the caller starts them with startAgent. */
  agents?: boolean;
}

export class DockerHosts {
  readonly engines: DockerEngine[] = [];
  readonly agents: ChildProcess[] = [];
  /** The end of each agent's log (by host index), for failure messages. */
  readonly logs = new Map<number, string>();

  private constructor(readonly hosts: Hosts) {}

  /** n hosts, each with dockerd and an agent; torn down through `t` (pass or fail). */
  static async create(t: Teardown, n = 3, o: DockerHostsOptions = {}): Promise<DockerHosts> {
    const hosts = await Hosts.create(n);
    t.teardown(() => hosts.destroy());
    const f = new DockerHosts(hosts);
    // One at a time: three dockerds starting at once on two cores time out their containerd.
    for (const h of hosts.hosts.slice(0, o.engines ?? n))
      f.engines.push(await startDocker(t, { netns: h.ns, iptables: true }));
    if (o.agents !== false) for (const h of hosts.hosts) f.agents.push(f.startAgent(h));
    return f;
  }

  startAgent(h: Host, v: AgentVariant = {}): ChildProcess {
    const engine = this.engines[h.index - 1];
    // hermetic: each agent runs in its own host namespace, so the default ports are its own
    const p = this.hosts.spawnIn(h.ns, process.execPath, [
      ...AGENT_NODE_FLAGS,
      CLI,
      'agent',
      '--node',
      v.node ?? `dh${h.index}`,
      '--bind',
      h.underlay,
      // hermetic: this host namespace's own gossip port
      '--bind-port',
      '7946',
      '--api-addr',
      h.underlay,
      // hermetic: this host namespace's own DNS address
      '--dns-listen',
      `${h.underlay}:8600`,
      ...(engine ? ['--docker-socket', engine.socket] : ['--docker', 'false']),
      '--lb-datapath',
      'nft',
      '--overlay',
      'true',
      '--log-format',
      'json',
      '--insecure', // the test's own namespaces: no keys or token needed
      // Each joins the others (as an operator lists seeds), so a restarted one finds them again.
      ...(v.join === false
        ? []
        : [
            '--join',
            this.hosts.hosts
              .filter((o) => o !== h)
              .map((o) => `${o.underlay}:7946`)
              .join(','),
          ]),
      ...FAST_GOSSIP_FLAGS,
      ...(v.extra ?? []),
    ]);
    const keep = (d: Buffer) => this.logs.set(h.index, ((this.logs.get(h.index) ?? '') + d.toString()).slice(-2500));
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    this.agents[h.index - 1] = p;
    return p;
  }

  /** Every engine's weft network, once every agent has made it. */
  async networks(withinMs: number): Promise<{ id: string; gateway: string }[]> {
    const nets: { id: string; gateway: string }[] = [];
    await eventually(
      'every agent made the weft network on its lease',
      async () => {
        for (const [i, e] of this.engines.entries()) nets[i] ??= (await weftNetwork(e))!;
        return nets.filter(Boolean).length === this.engines.length;
      },
      withinMs,
      200,
    );
    return nets;
  }

  /** The agents' and dockerds' log ends. */
  explain(): string[] {
    return [
      ...[...this.logs].map(([i, l]) => `agent ${i}'s log ends:\n${l}`),
      ...this.engines.map((e, i) => `dockerd ${i + 1}'s log ends:\n${e.logTail(1500)}`),
    ];
  }
}

/** Why a test on Docker hosts cannot run here (no Docker, not root), or false: tap's skip option. */
export const dockerHostsSkip = (): string | false => dockerSkip() || (process.getuid?.() !== 0 && 'needs root');

/** Runs `scenario` on fresh Docker hosts torn down with `t`; a failure prints the agents' and dockerds' logs. */
export async function onDockerHosts(
  t: Test,
  n: number,
  o: DockerHostsOptions,
  scenario: (t: Test, f: DockerHosts) => Promise<void>,
): Promise<void> {
  const f = await DockerHosts.create(t, n, o);
  await scenario(t, f).catch((err: unknown) => {
    for (const line of f.explain()) t.comment(line);
    throw err;
  });
}

/** `weft <args>` (the CLI) run in host `h` against its agent's API on the host's underlay address. */
export const weftCli = (h: Host, ...args: string[]) =>
  sh('ip', ['netns', 'exec', h.ns, process.execPath, ...AGENT_NODE_FLAGS, CLI, ...args, '--api', `http://${h.underlay}:8947`]); // prettier-ignore

/** The weft network's id and gateway on an engine, or undefined while there is none. */
export async function weftNetwork(engine: DockerEngine): Promise<{ id: string; gateway: string } | undefined> {
  const out = await engine
    .run(['network', 'inspect', 'weft', '-f', '{{.Id}} {{(index .IPAM.Config 0).Gateway}}'])
    .catch(() => '');
  const [id, gateway] = out.split(' ');
  return id && gateway ? { id, gateway } : undefined;
}

/** A container on the weft network answering its name on SERVICE_PORT; resolves with its address. */
export async function runService(engine: DockerEngine, name: string, gateway: string): Promise<string> {
  await engine.run([
    'run', '-d', '--init', '--network', 'weft', '--dns', gateway, '--name', name, '--hostname', name,
    '--label', `weft.service=${name}`, '--label', `weft.port.echo=${SERVICE_PORT}/tcp`,
    '--label', `weft.vip=web:${SERVICE_PORT}`, engine.image, 'nc', '-ll', '-p', SERVICE_PORT, '-e', '/bin/hostname',
  ]); // prettier-ignore
  return containerAddr(engine, name);
}

export const containerAddr = (engine: DockerEngine, name: string) =>
  engine.run(['inspect', name, '-f', '{{.NetworkSettings.Networks.weft.IPAddress}}']);

/** What a container's connection to `target`:SERVICE_PORT reads (the server's name), or '' on failure. */
export const ask = (engine: DockerEngine, from: string, target: string) =>
  engine.run(['exec', from, 'timeout', '3', 'nc', target, SERVICE_PORT], { timeoutMs: 10_000 }).catch(() => '');

/** What `weft overlay --json` says, in the parts the Docker network tests read. */
export interface OverlayView {
  state: string;
  lease: { subnet: string } | null;
  docker: {
    verdict: string | null;
    subnet: string | null;
    containers: number;
    moved: number;
    notReconnected: string[];
    parked: string[];
  } | null;
}

export async function overlayOf(h: Host): Promise<OverlayView | undefined> {
  const out = await weftCli(h, 'overlay', '--json').catch(() => '');
  try {
    return JSON.parse(out) as OverlayView;
  } catch {
    return undefined;
  }
}

/** The subnet `h`'s agent holds, once it holds one. */
export async function leaseOf(h: Host, withinMs: number): Promise<string> {
  let subnet = '';
  await eventually(`the agent on host ${h.index} holds a lease`, async () => {
    const v = await overlayOf(h);
    subnet = v?.state === 'held' ? (v.lease?.subnet ?? '') : '';
    return subnet !== '';
  }, withinMs, 200); // prettier-ignore
  return subnet;
}

export const inSubnet = (addr: string, subnet: string) => contains(parsePrefix(subnet)!, parsePrefix(`${addr}/32`)!);

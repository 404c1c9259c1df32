// The thin adapter between the planner and the kernel: reads state with `ip -json` and
// `bridge -json`, applies a plan with `ip -batch` and `bridge -batch` (one process per
// tool per pass), optionally inside a network namespace (`-n <ns>`), which is how tests
// and the bench run several "hosts" in one process.
//
// Parsing is defensive: iproute2's JSON differs a little between versions and a field
// we do not understand makes that entry count as absent, so the next plan re-creates it
// rather than the pass failing.
import { exec, type ExecResult } from '../base/exec.js';
import { DEFAULTS } from './defaults.js';
import {
  batchLine,
  normDst,
  type ActualState,
  type Command,
  type FdbState,
  type LinkState,
  type NeighState,
  type RouteState,
} from './plan.js';

export interface IpAdapterOptions {
  /** Run every command in this network namespace (`ip -n`). */
  netns?: string;
  /** Per command. Default 10 s. */
  timeoutMs?: number;
}

export interface ApplyResult {
  /** Commands run. */
  ran: number;
  /** The lines that failed, with iproute2's message. */
  failed: { line: string; error: string }[];
}

export interface UnderlayInfo {
  addr: string;
  dev: string;
  mtu: number;
}

/** What one `ip -d -json addr show` tells: weft's links, and every IPv4 address's device and MTU. */
export interface HostLinks {
  links: Record<string, LinkState>;
  addrOwner: Map<string, { dev: string; mtu: number }>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function parseJson(text: string): unknown[] {
  const t = text.trim();
  if (t === '') return [];
  const v: unknown = JSON.parse(t);
  return arr(v);
}

/** Links and addresses from `ip -d -json addr show`. */
export function parseAddrShow(json: string, names: readonly string[]): HostLinks {
  const links: Record<string, LinkState> = {};
  const addrOwner = new Map<string, { dev: string; mtu: number }>();
  for (const l of parseJson(json)) {
    if (!isObject(l)) continue;
    const name = str(l.ifname);
    const mtu = num(l.mtu);
    if (!name || mtu === undefined) continue;
    const addrs: string[] = [];
    for (const a of arr(l.addr_info)) {
      if (!isObject(a) || a.family !== 'inet') continue;
      const local = str(a.local);
      const len = num(a.prefixlen);
      if (!local || len === undefined) continue;
      addrs.push(`${local}/${len}`);
      if (!addrOwner.has(local)) addrOwner.set(local, { dev: name, mtu });
    }
    if (!names.includes(name)) continue;
    const info = isObject(l.linkinfo) ? l.linkinfo : {};
    const kind = str(info.info_kind);
    const data = isObject(info.info_data) ? info.info_data : {};
    const vxlan =
      kind === 'vxlan'
        ? {
            id: num(data.id) ?? -1,
            port: num(data.port) ?? -1,
            local: str(data.local),
            link: str(data.link),
            learning: data.learning !== false,
          }
        : undefined;
    links[name] = { name, kind, up: arr(l.flags).includes('UP'), mtu, mac: str(l.address) ?? '', vxlan, addrs };
  }
  return { links, addrOwner };
}

export function parseRoutes(json: string): RouteState[] {
  const out: RouteState[] = [];
  for (const r of parseJson(json)) {
    if (!isObject(r)) continue;
    const dst = str(r.dst);
    if (!dst || dst === 'default') continue;
    out.push({ dst: normDst(dst), gateway: str(r.gateway), onlink: arr(r.flags).includes('onlink') });
  }
  return out;
}

export function parseNeigh(json: string): NeighState[] {
  const out: NeighState[] = [];
  for (const n of parseJson(json)) {
    if (!isObject(n)) continue;
    const dst = str(n.dst);
    if (!dst) continue;
    out.push({ dst, lladdr: str(n.lladdr), permanent: arr(n.state).includes('PERMANENT') });
  }
  return out;
}

/** VXLAN remote entries only (those with a dst); the device's own entries are the kernel's. */
export function parseFdb(json: string): FdbState[] {
  const out: FdbState[] = [];
  for (const f of parseJson(json)) {
    if (!isObject(f)) continue;
    const mac = str(f.mac);
    const dst = str(f.dst);
    if (!mac || !dst) continue;
    out.push({ mac, dst, permanent: f.state === 'permanent' });
  }
  return out;
}

export class IpAdapter {
  readonly netns: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: IpAdapterOptions = {}) {
    this.netns = opts.netns;
    this.timeoutMs = opts.timeoutMs ?? DEFAULTS.commandTimeoutMs;
  }

  /** Runs `tool` (ip or bridge) in the namespace (`-n`, no `ip netns exec` process); resolves with any exit status. */
  run(tool: 'ip' | 'bridge', args: readonly string[], input?: string): Promise<ExecResult> {
    return exec([tool, ...(this.netns ? ['-n', this.netns] : []), ...args], { input, timeoutMs: this.timeoutMs });
  }

  private async json(tool: 'ip' | 'bridge', args: string[]): Promise<string> {
    const r = await this.run(tool, ['-json', ...args]);
    if (r.code !== 0) throw new Error(`${tool} -json ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout;
  }

  /** Every link with its addresses; `names` are the links whose details are kept. */
  async links(names: readonly string[]): Promise<HostLinks> {
    return parseAddrShow(await this.json('ip', ['-d', 'addr', 'show']), names);
  }

  /** The state of `device` and `bridge` and the entries on `device`. */
  async read(device: string, bridge: string | undefined, host?: HostLinks): Promise<ActualState> {
    const { links } = host ?? (await this.links(bridge ? [device, bridge] : [device]));
    if (!links[device]) return { links, routes: [], neigh: [], fdb: [] };
    const [routes, neigh, fdb] = await Promise.all([
      this.json('ip', ['route', 'show', 'table', 'main', 'dev', device]).then(parseRoutes),
      this.json('ip', ['neigh', 'show', 'dev', device]).then(parseNeigh),
      this.json('bridge', ['fdb', 'show', 'dev', device]).then(parseFdb),
    ]);
    return { links, routes, neigh, fdb };
  }

  /**
   * Runs the commands, each tool's consecutive run as one `-batch` (with -force, so one
   * failing line does not stop the others; the next pass re-plans whatever is missing).
   */
  async apply(cmds: readonly Command[]): Promise<ApplyResult> {
    const result: ApplyResult = { ran: cmds.length, failed: [] };
    for (let i = 0; i < cmds.length;) {
      let j = i;
      while (j < cmds.length && cmds[j].tool === cmds[i].tool) j++;
      const lines = cmds.slice(i, j).map(batchLine);
      const r = await this.run(cmds[i].tool, ['-force', '-batch', '-'], lines.join('\n') + '\n');
      if (r.code !== 0) result.failed.push(...attributeFailures(lines, r.stderr));
      i = j;
    }
    return result;
  }

  /** Where packets to `dst` leave from: source address and device. */
  async routeTo(dst: string): Promise<{ addr: string; dev: string } | undefined> {
    const r = await this.run('ip', ['-json', 'route', 'get', dst]);
    if (r.code !== 0) return undefined;
    const first = parseJson(r.stdout)[0];
    if (!isObject(first)) return undefined;
    const addr = str(first.prefsrc);
    const dev = str(first.dev);
    return addr && dev ? { addr, dev } : undefined;
  }

  /** Is IPv4 forwarding on? Without it the host does not pass packets between the bridge and the VXLAN device. */
  async forwarding(): Promise<boolean | undefined> {
    const r = await this.run('ip', ['-4', 'netconf', 'show']).catch(() => undefined);
    if (!r || r.code !== 0) return undefined;
    const m = /^inet all forwarding (on|off)/m.exec(r.stdout);
    return m ? m[1] === 'on' : undefined;
  }
}

/** Maps `Command failed -:N` lines of iproute2's stderr to the batch lines they concern. */
export function attributeFailures(lines: readonly string[], stderr: string): { line: string; error: string }[] {
  const out: { line: string; error: string }[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(raw.trim());
    if (m) {
      const n = Number(m[1]) - 1;
      out.push({ line: lines[n] ?? `line ${n + 1}`, error: pending.join('; ') || 'failed' });
      pending = [];
    } else if (raw.trim()) pending.push(raw.trim());
  }
  if (out.length === 0)
    out.push({ line: lines.join(' / ').slice(0, 200), error: pending.join('; ') || 'batch failed' });
  return out;
}

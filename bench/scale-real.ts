// The real rows of `npm run bench -- scale`: N agents (bench/scale-agent.ts: membership and
// the store, lan preset), each its own process on its own loopback address (127.0.30.x),
// joining the first. Once every agent holds all N alive and the same documents: idle CPU
// and bytes sent per agent over a window, RSS, then one agent killed with SIGKILL and the
// time until every survivor holds it dead.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const agentJs = fileURLToPath(new URL('./scale-agent.js', import.meta.url));
/** Not a default port, and on addresses of our own (127.0.30.x). */
const PORT = 18946;

export interface RealRow {
  kind: 'real';
  agents: number;
  form_s: number;
  idle_cpu_pct: number;
  rss_mb: number;
  bytes_per_node_s: number;
  detect_s: number | null;
}

interface AgentStats {
  alive: number;
  root: number;
  rss: number;
  cpuUs: number;
  bytesOut: number;
}

interface Agent {
  name: string;
  proc: ChildProcess;
  stats(): Promise<AgentStats>;
  /** Wall time (performance.timeOrigin-based) at which it reported each member dead. */
  deaths: Map<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r2 = (x: number) => Math.round(x * 100) / 100;

function startAgent(i: number): Promise<Agent> {
  return new Promise((resolve, reject) => {
    const name = `s${i + 1}`;
    const args = [agentJs, name, `127.0.30.${i + 1}`, String(PORT), ...(i > 0 ? [`127.0.30.1:${PORT}`] : [])];
    const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const waiting: ((s: AgentStats) => void)[] = [];
    const agent: Agent = {
      name,
      proc,
      deaths: new Map(),
      stats: () =>
        new Promise((res) => {
          waiting.push(res);
          proc.stdin!.write('{"op":"stats"}\n');
        }),
    };
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`agent ${name} exited (${code}) before it was ready`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: string; dead?: string; at?: number; stats?: AgentStats };
      if (m.ready) resolve(agent);
      if (m.dead && !agent.deaths.has(m.dead)) agent.deaths.set(m.dead, m.at!);
      if (m.stats) waiting.shift()?.(m.stats);
    });
  });
}

async function waitFormed(agents: Agent[], timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const s = await Promise.all(agents.map((a) => a.stats()));
    if (s.every((x) => x.alive === agents.length) && new Set(s.map((x) => x.root)).size === 1) return;
    if (performance.now() - t0 > timeoutMs) {
      const fewest = Math.min(...s.map((x) => x.alive));
      const roots = new Set(s.map((x) => x.root)).size;
      throw new Error(
        `${agents.length} agents did not form within ${timeoutMs / 1000} s (fewest alive seen: ${fewest}, ${roots} different stores)`,
      );
    }
    await sleep(500);
  }
}

/** Seconds from the kill of `victim` until every other agent reported it dead (null: not within `timeoutMs`). */
async function killAndDetect(agents: Agent[], victim: Agent, timeoutMs: number): Promise<number | null> {
  const killedAt = performance.timeOrigin + performance.now();
  victim.proc.kill('SIGKILL');
  const others = agents.filter((a) => a !== victim);
  const t0 = performance.now();
  while (!others.every((a) => a.deaths.has(victim.name))) {
    if (performance.now() - t0 > timeoutMs) return null;
    await sleep(100);
  }
  return (Math.max(...others.map((a) => a.deaths.get(victim.name)!)) - killedAt) / 1000;
}

export async function runReal(n: number, idleS: number, log: (l: string) => void): Promise<RealRow> {
  const agents: Agent[] = [];
  try {
    const t0 = performance.now();
    agents.push(await startAgent(0));
    agents.push(...(await Promise.all(Array.from({ length: n - 1 }, (_, i) => startAgent(i + 1)))));
    // Generous: 30 agents starting at once on a shared 2-core machine at load 60 took over 180 s.
    await waitFormed(agents, 600_000);
    const formS = (performance.now() - t0) / 1000;
    log(`${n} agents formed in ${formS.toFixed(1)} s`);
    await sleep(2000); // past the join burst
    const a = await Promise.all(agents.map((x) => x.stats()));
    const w0 = performance.now();
    await sleep(idleS * 1000);
    const b = await Promise.all(agents.map((x) => x.stats()));
    const window = (performance.now() - w0) / 1000;
    const cpuPct = median(b.map((s, i) => (s.cpuUs - a[i]!.cpuUs) / 1e4 / window));
    const bytes = median(b.map((s, i) => (s.bytesOut - a[i]!.bytesOut) / window));
    const detect = await killAndDetect(agents, agents[Math.floor(n / 2)]!, 90_000);
    return {
      kind: 'real',
      agents: n,
      form_s: r2(formS),
      idle_cpu_pct: r2(cpuPct),
      rss_mb: r2(median(b.map((s) => s.rss / 1e6))),
      bytes_per_node_s: r2(bytes),
      detect_s: detect === null ? null : r2(detect),
    };
  } finally {
    for (const x of agents) x.proc.removeAllListeners('exit');
    for (const x of agents) if (x.proc.exitCode === null) x.proc.kill('SIGKILL');
  }
}

// Starts `weft agent` as a real process (from dist/, built by `npm test`'s pretest) and
// waits for its ready line. Every process started here is killed in t.teardown.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ownLeftover } from './leftovers.js';
import { AGENT_NODE_FLAGS } from '../../src/node-flags.js';
import { devPorts } from '../../src/chaos/cluster.js';

// From test/helpers/*.ts (tap) the build is in dist/; compiled into dist/test/helpers (a bench imports this), it is beside us.
export const CLI = fileURLToPath(
  new URL(import.meta.url.endsWith('.js') ? '../../src/cli.js' : '../../dist/src/cli.js', import.meta.url),
);

export interface AgentProcess {
  proc: ChildProcess;
  /** Parsed JSON log lines so far. */
  lines: Record<string, unknown>[];
  /** Fields of the ready line (api, gossip, ...). */
  ready: Record<string, string>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** Resolves with the first log line that matches. */
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Flags that leave an agent no fixed port and nothing outside its process: every listener
 * on port 0 (gossip's address and port are the caller's), no Docker, no forwarding, the
 * userspace datapath. Tests and benches start agents with these first, so an agent already
 * running on this host (on the default ports 7946, 7947, 8600, 8947) never gets in the way;
 * test/hermetic.test.ts checks that nothing starts an agent on a default port.
 * HERMETIC_PORT_FLAGS are the ports alone, for a bench that measures the default agent.
 */
export const HERMETIC_PORT_FLAGS: readonly string[] = [
  '--bind-port',
  '0',
  '--api-port',
  '0',
  '--store-port',
  '0',
  '--dns-listen',
  '127.0.0.1:0',
];
export const HERMETIC_AGENT_FLAGS: readonly string[] = [
  ...HERMETIC_PORT_FLAGS,
  '--dns-forward',
  'false',
  '--docker',
  'false',
  '--lb-datapath',
  'userspace',
];

/**
 * HERMETIC_AGENT_FLAGS less those `args` gives itself: a list flag given twice keeps both
 * values (`--dns-listen 127.0.0.1:0 --dns-listen X` is two listeners), so a caller's own value
 * must replace the default, not join it.
 */
export function hermeticDefaults(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < HERMETIC_AGENT_FLAGS.length; i += 2)
    if (!args.includes(HERMETIC_AGENT_FLAGS[i]!)) out.push(HERMETIC_AGENT_FLAGS[i]!, HERMETIC_AGENT_FLAGS[i + 1]!);
  return out;
}

/** Whether `port` on `addr` can be bound now, over TCP and over UDP (each closed again at once). */
async function bindable(addr: string, port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, addr, () => srv.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => (sock.close(), resolve(false)));
    sock.bind(port, addr, () => sock.close(() => resolve(true)));
  });
}

/**
 * An offset that leaves each of `ports` plus it free on every one of `addrs`, over TCP and
 * UDP: by default the agent's four (a `weft dev-cluster --port-offset` for a loopback cluster
 * on `addrs`). So a program holding a default port on every address (serf's 7946, Consul's
 * 8600) cannot get in the way. Random within 10,000-50,000; a port taken between this probe
 * and the agents' bind fails with the agent's own error, not a hang.
 */
export async function freePortOffset(
  addrs: readonly string[],
  ports: readonly number[] = Object.values(devPorts(0)),
): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = 10_000 + Math.floor(Math.random() * 40_000);
    let free = true;
    for (const addr of addrs) for (const port of ports) free &&= await bindable(addr, port + offset);
    if (free) return offset;
  }
  throw new Error(`no port offset left every port free on ${addrs.join(', ')} in 50 tries`);
}

/**
 * Gossip timings for tests and benches that wait on membership: a failure is detected in
 * about a second instead of the LAN preset's several, and nothing else changes.
 */
export const FAST_GOSSIP_FLAGS: readonly string[] = [
  '--probe-interval',
  '300ms',
  '--probe-timeout',
  '150ms',
  '--gossip-interval',
  '100ms',
  '--suspicion-mult',
  '2',
];

/**
 * Gossip timings for clusters of 5–10 agents on a busy machine: fast enough to wait on, and
 * slow enough that a loaded machine does not make false suspicions.
 */
export const STEADY_GOSSIP_FLAGS: readonly string[] = [
  '--probe-interval',
  '500ms',
  '--probe-timeout',
  '250ms',
  '--gossip-interval',
  '100ms',
  '--suspicion-mult',
  '4',
];

/** One HTTP call to an agent's API with a JSON body: the status and the parsed body (`{text}` when not JSON). */
export async function apiCall(
  a: AgentProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(a.ready.api + path, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { text } };
  }
}

// 30 s: ten agents loading their modules at once on a busy 2-core machine took over 15 s.
// `weft`: the command that is weft (the packaged one in test/package.e2e.test.ts); by default
// with the V8 flags of the shebang and the packaged wrapper, so tests run the agent as operators do.
export async function startAgent(
  t: Teardown,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  readyTimeoutMs = 30_000,
  weft: readonly string[] = [process.execPath, ...AGENT_NODE_FLAGS, CLI],
): Promise<AgentProcess> {
  const [exe, ...pre] = weft as [string, ...string[]];
  const proc = spawn(exe, [...pre, 'agent', '--log-format', 'json', ...hermeticDefaults(args), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid) ownLeftover('pid', proc.pid);
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: LineWaiter[] = [];
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  collectLines(proc, lines, waiters);
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const waitForLine = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = lines.find(pred);
      if (seen) return resolve(seen);
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching log line within ${timeoutMs}ms; stderr: ${stderr.slice(-500)}; last lines: ${JSON.stringify(lines.slice(-5))}`,
            ),
          ),
        timeoutMs,
      );
      waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void exited.then((code) =>
        reject(
          new Error(
            `agent exited (${code}) before the expected line; stderr: ${stderr.slice(-500)}; last lines: ${JSON.stringify(lines.slice(-5))}`,
          ),
        ),
      );
    });
  const readyLine = await waitForLine(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('weft agent ready'),
    readyTimeoutMs,
  );
  return { proc, lines, ready: readyLine as Record<string, string>, exited, waitForLine };
}

type LineWaiter = { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void };

/** Parses each stdout line into `lines` (text that is not JSON as {msg, unparsed}) and wakes the waiters it matches. */
function collectLines(proc: ChildProcess, lines: Record<string, unknown>[], waiters: LineWaiter[]): void {
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text, unparsed: true };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
}

/** The A records `name` has at `agent`'s DNS, sorted; none when it fails or times out (1 s). */
export async function resolvesA(agent: AgentProcess, name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([agent.ready.dns!]);
  try {
    return (await r.resolve4(name)).sort();
  } catch {
    return [];
  }
}

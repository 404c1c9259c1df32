// Attacks on the HTTP API of a real agent on loopback (README "Security"): a web page's
// cross-site writes (CSRF), DNS rebinding, slowloris, stalled watchers and unauthenticated
// writes. Each starts its own agent, attacks, measures and stops it. Used by
// `npm run bench -- hostile` and by src/api-hostile.e2e.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AttackResult } from './result.js';
import { residentMb } from '../proc-memory.js';
import { DEFAULT_LIMITS } from '../../src/api.js';

// From bench/hostile/ under tap, or from dist/bench/hostile/ when built.
const HERE = fileURLToPath(import.meta.url);
const CLI = fileURLToPath(
  new URL(HERE.includes('/dist/') ? '../../src/cli.js' : '../../dist/src/cli.js', import.meta.url),
);

/** The RSS budget the stalled-watcher attack may cost (the figure rss_growth_mb_stalled_watchers of `bench hostile`). */
export const RSS_BUDGET_MB = 32;
/** Beyond the stall limit, for the timer and the poll (100 ms) on a busy host. */
const CUT_SLACK_MS = 5_000;

export interface ApiAgent {
  proc: ChildProcess;
  pid: number;
  /** http://127.0.0.1:PORT */
  api: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts `weft agent` with only what the API attacks need: API on a free loopback port,
 * no DNS, no Docker, the userspace LB (no root). `nofile` runs it under that descriptor limit.
 */
export async function startApiAgent(
  opts: { args?: string[]; env?: NodeJS.ProcessEnv; nofile?: number } = {},
): Promise<ApiAgent> {
  const agentArgs = [
    CLI,
    'agent',
    '--log-format',
    'json',
    '--api-port',
    '0',
    '--bind-port',
    '0',
    '--store-port',
    '0',
    '--dns-listen',
    '',
    '--docker',
    'false',
    '--lb-datapath',
    'userspace',
    '--proxy-cidr',
    '127.240.0.0/16',
    ...(opts.args ?? []),
  ];
  const [cmd, args] = opts.nofile
    ? ['prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, process.execPath, ...agentArgs]]
    : [process.execPath, agentArgs];
  const proc = spawn(cmd as string, args as string[], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  };
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`agent not ready within 15s; stderr: ${stderr.slice(-300)}`)),
      15_000,
    );
    createInterface({ input: proc.stdout! }).on('line', (text) => {
      if (!text.includes('weft agent ready')) return;
      clearTimeout(timer);
      resolve(JSON.parse(text) as Record<string, string>);
    });
    void exited.then(() => reject(new Error(`agent exited before ready; stderr: ${stderr.slice(-300)}`)));
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { proc, pid: proc.pid!, api: ready.api!, port: Number(new URL(ready.api!).port), stop };
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTP request with exactly the headers given (Host and Origin included), from `localAddress`. */
export function httpRequest(
  url: string,
  o: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
    timeoutMs?: number;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: o.method ?? 'GET',
        headers: o.headers,
        localAddress: o.localAddress,
        agent: false,
        timeout: o.timeoutMs ?? 5_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(o.body);
  });
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads through the API as a legitimate local client (headers as `weft` sends them). */
async function legit(
  agent: ApiAgent,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  timeoutMs?: number,
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers['x-weft-token'] = token;
  return httpRequest(agent.api + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs,
  });
}

const evil = { origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' };
/** What a web page can send without a preflight, and near misses: each must be refused. */
const CSRF_ATTEMPTS: { what: string; method: string; path: string; headers: Record<string, string>; body: unknown }[] =
  [
    {
      what: 'service',
      method: 'POST',
      path: '/v1/services',
      headers: evil,
      body: { service: 'csrf', id: 'c1', addrs: ['10.66.6.6'] },
    },
    { what: 'vip', method: 'POST', path: '/v1/vips', headers: evil, body: { vip: 'csrf:22' } },
    { what: 'kv', method: 'PUT', path: '/v1/kv/csrf/a', headers: evil, body: { owned: true } },
    { what: 'join', method: 'POST', path: '/v1/members/join', headers: evil, body: { seeds: ['127.0.0.1:9'] } },
    // A form post from an old browser or a plugin: text/plain and no Origin at all.
    {
      what: 'service (no Origin)',
      method: 'POST',
      path: '/v1/services',
      headers: { 'content-type': 'text/plain' },
      body: { service: 'csrf2', addrs: ['10.66.6.7'] },
    },
    // JSON from a foreign Origin (a browser would preflight; the agent must not rely on that).
    {
      what: 'kv (JSON, foreign Origin)',
      method: 'PUT',
      path: '/v1/kv/csrf/b',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: 1,
    },
    {
      what: 'kv (Origin null)',
      method: 'PUT',
      path: '/v1/kv/csrf/c',
      headers: { origin: 'null', 'content-type': 'application/json' },
      body: 1,
    },
  ];

/**
 * CSRF: what a web page can send without a CORS preflight (a POST with text/plain, with the
 * page's Origin), and a few near misses. Nothing may be created.
 */
export async function csrfAttack(agent: ApiAgent): Promise<AttackResult> {
  const accepted: string[] = [];
  for (const a of CSRF_ATTEMPTS) {
    const r = await httpRequest(agent.api + a.path, {
      method: a.method,
      headers: a.headers,
      body: JSON.stringify(a.body),
    });
    if (r.status < 400) accepted.push(`${a.what} (${r.status})`);
  }
  const services = (await legit(agent, 'GET', '/v1/services')).body;
  const vips = (await legit(agent, 'GET', '/v1/store?prefix=vip/')).body;
  const kv = (await legit(agent, 'GET', '/v1/kv?prefix=csrf/')).body;
  const created = [
    services.includes('csrf') && 'service',
    vips.includes('csrf') && 'vip',
    kv.includes('csrf/') && 'kv',
  ].filter(Boolean) as string[];
  const held = accepted.length === 0 && created.length === 0;
  return {
    name: 'api_csrf',
    held,
    forged_accepted: accepted.length,
    detail: held
      ? `${CSRF_ATTEMPTS.length} cross-site writes refused, nothing created`
      : `accepted: ${accepted.join(', ') || 'none'}; created: ${created.join(', ') || 'nothing'}`,
  };
}

/**
 * DNS rebinding: a page on evil.example re-points its name at 127.0.0.1, so the browser sends
 * `Host: evil.example:PORT` (and the page's own Origin) to the agent. No data may come back.
 */
export async function rebindingAttack(agent: ApiAgent): Promise<AttackResult> {
  const secret = `s3cret-${process.pid}`;
  await legit(agent, 'PUT', '/v1/kv/rebind/secret', secret);
  const tries: Record<string, string>[] = [
    { host: `evil.example:${agent.port}` },
    { host: 'evil.example' },
    { host: `evil.example:${agent.port}`, origin: `http://evil.example:${agent.port}` },
    { host: `127.0.0.1:${agent.port}`, origin: 'http://evil.example' },
  ];
  const leaked: string[] = [];
  for (const headers of tries) {
    for (const path of ['/v1/kv?prefix=rebind/', '/v1/kv/rebind/secret', '/v1/store']) {
      const r = await httpRequest(agent.api + path, { headers });
      if (r.status < 400 || r.body.includes(secret))
        leaked.push(`${path} with ${JSON.stringify(headers)} (${r.status})`);
    }
  }
  const held = leaked.length === 0;
  return {
    name: 'api_dns_rebinding',
    held,
    forged_accepted: leaked.length,
    detail: held ? `${tries.length * 3} rebinding reads refused` : `answered: ${leaked.slice(0, 3).join('; ')}`,
  };
}

/** `n` connections to `port` from `src`, paced, each added to `sockets` as it is made. */
async function openConnections(
  port: number,
  src: string,
  n: number,
  sockets: Socket[],
  onClose: () => void,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const s = connect({ host: '127.0.0.1', port, localAddress: src });
    s.on('error', () => {});
    s.on('close', onClose);
    s.on('data', () => {});
    sockets.push(s);
    if (i % 50 === 49) await sleep(5);
  }
}

/**
 * Slowloris: many connections from other loopback addresses, each sending its request
 * headers a byte at a time, against an agent with 1024 file descriptors. The agent must
 * still answer a normal client and cut the slow connections within its header timeout.
 */
export async function slowlorisAttack(opts: { smoke: boolean }): Promise<AttackResult> {
  const nofile = 1024;
  const perSource = opts.smoke ? 600 : 1500;
  const sources = ['127.0.0.2', '127.0.0.3'];
  const agent = await startApiAgent({ nofile });
  const sockets: Socket[] = [];
  let closed = 0;
  let lastClose = 0;
  const onClose = () => {
    closed++;
    lastClose = Date.now();
  };
  try {
    const start = Date.now();
    await Promise.all(sources.map((src) => openConnections(agent.port, src, perSource, sockets, onClose)));
    const request = `GET /v1/kv HTTP/1.1\r\nHost: 127.0.0.1:${agent.port}\r\nX-Slow: ${'a'.repeat(200)}`;
    let pos = 0;
    const drip = setInterval(() => {
      const byte = request[pos++ % request.length]!;
      for (const s of sockets) if (!s.destroyed && s.writable) s.write(byte);
    }, 200);
    try {
      await sleep(1_500);
      const openAfterConnect = sockets.length - closed;
      const fds = openFds(agent.pid);
      let answered = false;
      let why = '';
      try {
        answered =
          (await httpRequest(`${agent.api}/v1/health`, { localAddress: '127.0.0.1', timeoutMs: 3_000 })).status === 200;
      } catch (e) {
        why = (e as Error).message;
      }
      // Node's default header timeout is 60 s; ours is short. Wait a little past it.
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && closed < sockets.length) await sleep(250);
      const stillOpen = sockets.length - closed;
      const cutMs = stillOpen === 0 ? lastClose - start : NaN;
      const held = answered && stillOpen === 0;
      return {
        name: 'api_slowloris',
        held,
        crashes: agent.proc.exitCode !== null ? 1 : 0,
        detail: `${sockets.length} slow connections, ${openAfterConnect} kept open by the agent; normal request ${answered ? 'answered' : `failed (${why})`}; ${stillOpen} still open after 15 s`,
        figures: {
          api_fd_exhaustion: answered ? 0 : 1,
          slowloris_connections: sockets.length,
          slowloris_accepted: openAfterConnect,
          slowloris_agent_fds: fds,
          slowloris_open_after_15s: stillOpen,
          slowloris_all_cut_ms: cutMs,
        },
      };
    } finally {
      clearInterval(drip);
    }
  } finally {
    for (const s of sockets) s.destroy();
    await agent.stop();
  }
}

/** `keys` values of 16 KB under flood/. */
async function fillFlood(agent: ApiAgent, keys: number): Promise<void> {
  const value = 'x'.repeat(16 * 1024);
  for (let i = 0; i < keys; i++) {
    const r = await legit(agent, 'PUT', `/v1/kv/flood/${String(i).padStart(4, '0')}`, value);
    if (r.status !== 200) throw new Error(`filling the store failed: ${r.status} ${r.body}`);
  }
}

/** A watch of flood/ from `src` (spread over source addresses as a botnet would, and under any per-client limit) that never reads. */
function stalledWatch(port: number, src: string): Socket {
  const s = connect({ host: '127.0.0.1', port, localAddress: src });
  s.on('error', () => {});
  s.pause();
  s.write(`GET /v1/kv?watch=true&prefix=flood/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  return s;
}

/**
 * Samples the agent's open descriptors and RSS every 100 ms, from when the watchers connect
 * until stopped: when their connections, once seen open, are closed again (cutAt, NaN until
 * then), and the peak RSS. It samples through the changes too: on a loaded host they can
 * take longer than the stall limit, and the agent then cuts the watchers before they end.
 */
function watchForCut(pid: number, baseFds: number, watchers: number) {
  const seen = { fds: baseFds, sawOpen: false, cutAt: NaN, peak: 0 };
  const timer = setInterval(() => {
    try {
      seen.peak = Math.max(seen.peak, residentMb(pid).rss);
      seen.fds = openFds(pid);
    } catch {
      return; // the agent exited: counted as a crash
    }
    if (seen.fds >= baseFds + watchers / 2) seen.sawOpen = true;
    if (seen.sawOpen && Number.isNaN(seen.cutAt) && seen.fds <= baseFds + 5) seen.cutAt = Date.now();
  }, 100);
  return { seen, stop: () => clearInterval(timer) };
}

/**
 * Stalled watchers: 200 clients start a watch of a prefix holding 6-12 MB and never read,
 * then the prefix changes a few times. (The kernel alone takes up to 4 MB, tcp_wmem, per
 * stalled loopback connection, so a smaller prefix would not show a leak; the data is in
 * the store before the baseline, so the store's own growth is not counted.) The agent's
 * RSS may grow by at most RSS_BUDGET_MB, and the watchers must be cut off.
 */
export async function stalledWatchersAttack(opts: { smoke: boolean }): Promise<AttackResult> {
  const watchers = 200;
  const keys = opts.smoke ? 384 : 768;
  const updates = 16;
  const agent = await startApiAgent();
  const sockets: Socket[] = [];
  let cut: ReturnType<typeof watchForCut> | undefined;
  try {
    await fillFlood(agent, keys);
    await sleep(500);
    const baseRss = residentMb(agent.pid).rss;
    const baseFds = openFds(agent.pid);
    for (let i = 0; i < watchers; i++) sockets.push(stalledWatch(agent.port, `127.0.1.${(i % 4) + 2}`));
    const start = Date.now();
    cut = watchForCut(agent.pid, baseFds, watchers);
    const { putMsMax, putsFailed, firstWriteDone } = await sendChanges(agent, keys, updates);
    // A watcher's stall clock starts when a change waits for it, during the first write: the
    // cut is due streamStallMs after that write returns. How long the write takes (the agent
    // first fills 200 kernel buffers) depends on the host's load, so the bound starts there.
    const due = firstWriteDone + DEFAULT_LIMITS.streamStallMs + CUT_SLACK_MS;
    while (Date.now() < due && Number.isNaN(cut.seen.cutAt)) await sleep(100);
    cut.stop();
    const { fds } = cut.seen;
    const cutMs = cut.seen.cutAt - start;
    const peak = Math.max(baseRss, cut.seen.peak);
    const growth = peak - baseRss;
    const held = growth <= RSS_BUDGET_MB && !Number.isNaN(cutMs) && putsFailed === 0;
    return {
      name: 'api_stalled_watchers',
      held,
      crashes: agent.proc.exitCode !== null ? 1 : 0,
      detail: `${watchers} watchers of ${keys} x 16 KB (then ${updates} changes) that never read: RSS ${baseRss.toFixed(0)} -> peak ${peak.toFixed(0)} MB; ${putsFailed} of ${updates} writes failed; ${Number.isNaN(cutMs) ? `not cut off within ${((due - start) / 1000).toFixed(1)} s, ${(DEFAULT_LIMITS.streamStallMs + CUT_SLACK_MS) / 1000} s after the first write (${fds - baseFds} connections open)` : `cut off after ${(cutMs / 1000).toFixed(1)} s`}`,
      figures: {
        rss_growth_mb_stalled_watchers: Math.round(growth * 10) / 10,
        stalled_watchers_cut_ms: cutMs,
        stalled_watchers_put_ms_max: putMsMax,
        stalled_watchers_puts_failed: putsFailed,
      },
    };
  } finally {
    cut?.stop();
    for (const s of sockets) s.destroy();
    await agent.stop();
  }
}

/**
 * `updates` changes under flood/, each of which every watcher is sent: what piles up in
 * memory. (The first waits while the agent fills 200 kernel send buffers of up to 4 MB.)
 */
async function sendChanges(agent: ApiAgent, keys: number, updates: number) {
  let putMsMax = 0;
  let putsFailed = 0;
  let firstWriteDone = 0;
  for (let i = 0; i < updates; i++) {
    const t0 = Date.now();
    const key = `/v1/kv/flood/${String(i % keys).padStart(4, '0')}`;
    const ok = await legit(agent, 'PUT', key, `${i}`.padEnd(16 * 1024, 'y'), undefined, 30_000).then(
      (r) => r.status === 200,
      () => false,
    );
    if (!ok) putsFailed++;
    if (i === 0) firstWriteDone = Date.now();
    putMsMax = Math.max(putMsMax, Date.now() - t0);
  }
  return { putMsMax, putsFailed, firstWriteDone };
}

/**
 * An agent given an API token (in the environment, as an operator would): a write without
 * the token, or with a wrong one, must be refused and change nothing.
 */
export async function unauthenticatedWriteAttack(): Promise<AttackResult> {
  const token = `t-${process.pid}-${Date.now()}`;
  const agent = await startApiAgent({ env: { WEFT_API_TOKEN: token } });
  try {
    const accepted: string[] = [];
    for (const [what, t] of [
      ['no token', undefined],
      ['wrong token', token + 'x'],
      ['empty token', ''],
    ] as const) {
      const r = await legit(agent, 'PUT', '/v1/kv/auth/x', what, t);
      if (r.status < 400) accepted.push(what);
      const s = await legit(agent, 'POST', '/v1/services', { service: 'unauth', addrs: ['10.66.6.8'] }, t);
      if (s.status < 400) accepted.push(`${what} (service)`);
    }
    const ok = (await legit(agent, 'PUT', '/v1/kv/auth/y', 1, token)).status === 200;
    const held = accepted.length === 0 && ok;
    return {
      name: 'api_unauthenticated_write',
      held,
      forged_accepted: accepted.length,
      detail: held
        ? 'writes without the token refused; with it accepted'
        : `accepted without the token: ${accepted.join(', ') || 'none'}; with the token: ${ok ? 'accepted' : 'refused'}`,
    };
  } finally {
    await agent.stop();
  }
}

export async function runApiAttacks(opts: { smoke: boolean }): Promise<AttackResult[]> {
  const results: AttackResult[] = [];
  const agent = await startApiAgent();
  try {
    results.push(await csrfAttack(agent));
    results.push(await rebindingAttack(agent));
  } finally {
    await agent.stop();
  }
  results.push(await unauthenticatedWriteAttack());
  results.push(await slowlorisAttack(opts));
  results.push(await stalledWatchersAttack(opts));
  return results;
}

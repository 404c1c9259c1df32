// The probes: thin adapters that run one check once and say what they saw. Each resolves
// (never rejects) within the check's timeout with a status and a short output; the
// scheduler (scheduler.ts) decides what the result means.
//
//   http    GET http://<addr>:<port><path> (HTTP/1.0): 2xx and 3xx pass (redirects are not followed),
//           429 is a warning (as Consul), anything else is critical; with `body`, the first
//           DEFAULTS.maxBodyBytes must contain it.
//   tcp     a connection to <addr>:<port> is accepted.
//   script  `/bin/sh -c <command>` in its own process group: exit 0 passing, 1 warning,
//           anything else critical. At the timeout the whole group is killed (SIGKILL), so a
//           script's children do not outlive it.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { CheckDef } from '../records/checks.js';
import { DEFAULTS } from './defaults.js';
import type { Outcome } from './scheduler.js';

/** Runs `def` against an endpoint at `addr`. */
export type Probe = (def: CheckDef, addr: string) => Promise<Outcome>;

const critical = (output: string): Outcome => ({ status: 'critical', output });
const hostPort = (addr: string, port: number) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

/** ":8080/healthz" -> port and path. */
function splitTarget(target: string): { port: number; path: string } {
  const slash = target.indexOf('/');
  return { port: Number(target.slice(1, slash < 0 ? undefined : slash)), path: slash < 0 ? '/' : target.slice(slash) };
}

function httpVerdict(code: number, body: string, want: string | undefined): Outcome {
  const said = `HTTP ${code}${body ? `: ${body.slice(0, 120)}` : ''}`;
  if (code === 429) return { status: 'warning', output: said };
  if (code < 200 || code >= 400) return critical(said);
  if (want !== undefined && !body.includes(want))
    return critical(`HTTP ${code}, but the body does not contain ${JSON.stringify(want)}`);
  return { status: 'passing', output: said };
}

/**
 * One HTTP/1.0 GET on a plain socket: at 1 s intervals the probe is the hot path, and
 * node:http's client costs about three times a bare connection (measured, bench checks).
 * HTTP/1.0 so that the server sends no chunked body and closes when done.
 */
export function httpProbe(def: CheckDef, addr: string): Promise<Outcome> {
  const { port, path } = splitTarget(def.target);
  const where = `GET ${hostPort(addr, port)}${path}`;
  return new Promise((resolve) => {
    const sock = connect({ host: addr, port });
    const timer = setTimeout(() => finish(critical(`timed out after ${def.timeoutMs} ms (${where})`)), def.timeoutMs);
    let buf = Buffer.alloc(0);
    let done = false;
    function finish(o: Outcome) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    }
    const verdict = () => {
      const code = /^HTTP\/1\.[01] ([0-9]{3})/.exec(buf.subarray(0, 16).toString('latin1'));
      if (!code) return finish(critical(`${where}: not an HTTP answer`));
      const head = buf.indexOf('\r\n\r\n');
      finish(httpVerdict(Number(code[1]), head < 0 ? '' : buf.subarray(head + 4).toString('utf8'), def.body));
    };
    sock.on('connect', () =>
      sock.write(`GET ${path} HTTP/1.0\r\nHost: ${hostPort(addr, port)}\r\nUser-Agent: weft-check\r\n\r\n`),
    );
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= DEFAULTS.maxBodyBytes) verdict();
    });
    sock.on('end', verdict);
    sock.on('error', (err) => finish(critical(`${where}: ${err.message}`)));
  });
}

export function tcpProbe(def: CheckDef, addr: string): Promise<Outcome> {
  const { port } = splitTarget(def.target);
  return new Promise((resolve) => {
    const sock = connect({ host: addr, port });
    const timer = setTimeout(
      () => finish(critical(`timed out after ${def.timeoutMs} ms connecting to ${hostPort(addr, port)}`)),
      def.timeoutMs,
    );
    function finish(o: Outcome) {
      clearTimeout(timer);
      // A reset, not a close, as HAProxy's checks: no TIME_WAIT socket per check on this
      // node (500 checks a second would hold 30,000), and less work for both kernels.
      if (sock.readyState === 'open') sock.resetAndDestroy();
      else sock.destroy();
      resolve(o);
    }
    sock.on('connect', () => finish({ status: 'passing', output: `connected to ${hostPort(addr, port)}` }));
    sock.on('error', (err) => finish(critical(`connect ${hostPort(addr, port)}: ${err.message}`)));
  });
}

export function scriptProbe(def: CheckDef): Promise<Outcome> {
  return new Promise((resolve) => {
    // detached: its own process group, so a timeout kills the script's children too.
    const p = spawn('/bin/sh', ['-c', def.target], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    const take = (d: Buffer) => {
      if (size < DEFAULTS.maxScriptOutputBytes) out.push(d.subarray(0, DEFAULTS.maxScriptOutputBytes - size));
      size += d.length;
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(p.pid);
    }, def.timeoutMs);
    p.on('error', (err) => {
      clearTimeout(timer);
      resolve(critical(`cannot run the script: ${err.message}`));
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8').trim();
      if (timedOut)
        return resolve(critical(`timed out after ${def.timeoutMs} ms and was killed${text ? `: ${text}` : ''}`));
      const status = code === 0 ? 'passing' : code === 1 ? 'warning' : 'critical';
      resolve({ status, output: text || `exit ${code ?? 'by signal'}` });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The probe of each kind; ttl has none (pushed by the service). */
export const PROBES: Record<'http' | 'tcp' | 'script', Probe> = {
  http: httpProbe,
  tcp: tcpProbe,
  script: (def) => scriptProbe(def),
};

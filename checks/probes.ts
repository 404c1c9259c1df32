// The probes: thin adapters that run one check once and say what they saw. Each resolves
// (never rejects) within the check's timeout with a status and a short output; the
// scheduler (scheduler.ts) decides what the result means.
//
//   http    GET http://<addr>:<port><path> (http-probe.ts; keep-alive in a runner): 2xx and 3xx pass (redirects are not followed),
//           429 is a warning (as Consul), anything else is critical; with `body`, the first
//           DEFAULTS.maxBodyBytes must contain it.
//   tcp     a connection to <addr>:<port> is accepted (tcp-probe.ts).
//   script  `/bin/sh -c <command>` in its own process group: exit 0 passing, 1 warning,
//           anything else critical. At the timeout the whole group is killed (SIGKILL), so a
//           script's children do not outlive it.
import { spawn } from 'node:child_process';
import { httpProbe } from './http-probe.js';
import { tcpProbe } from './tcp-probe.js';
import type { CheckDef } from '../records/checks.js';
import { DEFAULTS } from './defaults.js';
import type { Outcome } from './scheduler.js';

/** Runs `def` against an endpoint at `addr`. */
export type Probe = (def: CheckDef, addr: string) => Promise<Outcome>;

const critical = (output: string): Outcome => ({ status: 'critical', output });

// The HTTP probe, with its keep-alive connections, is http-probe.ts; the TCP probe, on a bare handle, tcp-probe.ts.
export { httpProbe, KeepAlivePool } from './http-probe.js';
export { tcpProbe } from './tcp-probe.js';

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
  http: (def, addr) => httpProbe(def, addr),
  tcp: tcpProbe,
  script: (def) => scriptProbe(def),
};

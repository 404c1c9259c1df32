// The TCP check's probe: a connection to <addr>:<port> is accepted, then reset.
//
// At 1 s intervals this is the hot path of a node with many checks. The profile of
// `npm run bench -- checks` put a net.Socket probe at about 105 µs of CPU (53 user, 52 in
// the kernel's loopback handshake and reset): the user half was the stream machinery of a
// net.Socket (two stream states, event emitters, nextTicks, the destroy chain) that a probe
// never uses, since it reads and writes nothing. So the probe drives libuv's TCP handle
// (node's tcp_wrap binding, which node:net itself is built on) directly: one handle, one
// connect request, a reset. That measured about 20 µs user for the same kernel work.
//
// tcp_wrap is node's internal binding: should it ever be missing or change shape, the
// probe falls back to net.Socket, which gives the same answers at the old cost.
import { connect, isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { CheckDef } from '../records/checks.js';
import { hostPort, splitTarget } from './http-probe.js';
import type { Outcome } from './scheduler.js';

interface TcpHandle {
  connect(req: ConnectReq, addr: string, port: number): number;
  connect6(req: ConnectReq, addr: string, port: number): number;
  reset(cb: () => void): number;
  close(cb: () => void): void;
}
interface ConnectReq {
  oncomplete: (status: number) => void;
}
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number };
}

function loadTcpWrap(): TcpWrap | undefined {
  try {
    const b = (process as unknown as { binding(name: string): unknown }).binding('tcp_wrap') as Partial<TcpWrap>;
    const ok =
      typeof b.TCP === 'function' &&
      typeof b.TCPConnectWrap === 'function' &&
      typeof b.constants?.SOCKET === 'number' &&
      ['connect', 'connect6', 'reset', 'close'].every(
        (m) => typeof (b.TCP!.prototype as Record<string, unknown>)[m] === 'function',
      );
    return ok ? (b as TcpWrap) : undefined;
  } catch {
    return undefined;
  }
}

const wrap = loadTcpWrap();
const noop = () => {};
const critical = (output: string): Outcome => ({ status: 'critical', output });
const timedOut = (def: CheckDef, where: string) =>
  critical(`timed out after ${def.timeoutMs} ms connecting to ${where}`);

/** Whether probes use the bare handle (false: net.Socket); for the bench and tests. */
export const TCP_PROBE_BARE = wrap !== undefined;

export function tcpProbe(def: CheckDef, addr: string): Promise<Outcome> {
  const { port } = splitTarget(def.target);
  const family = isIP(addr);
  return wrap && family !== 0 ? bareProbe(wrap, def, addr, port, family) : socketProbe(def, addr, port);
}

function bareProbe(w: TcpWrap, def: CheckDef, addr: string, port: number, family: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const handle = new w.TCP(w.constants.SOCKET);
    const req = new w.TCPConnectWrap();
    let done = false;
    const finish = (o: Outcome, connected: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // A reset, not a close, as HAProxy's checks: no TIME_WAIT socket per check on this
      // node (500 checks a second would hold 30,000), and less work for both kernels.
      // Closing a handle whose connect is pending cancels it (oncomplete then comes with
      // ECANCELED, and is ignored).
      if (connected) handle.reset(noop);
      else handle.close(noop);
      resolve(o);
    };
    req.oncomplete = (status) =>
      status === 0
        ? finish({ status: 'passing', output: `connected to ${hostPort(addr, port)}` }, true)
        : finish(critical(`connect ${hostPort(addr, port)}: ${errorName(status)}`), false);
    const timer = setTimeout(() => finish(timedOut(def, hostPort(addr, port)), false), def.timeoutMs);
    const err = family === 6 ? handle.connect6(req, addr, port) : handle.connect(req, addr, port);
    if (err !== 0) finish(critical(`connect ${hostPort(addr, port)}: ${errorName(err)}`), false);
  });
}

function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `error ${status}`;
  }
}

/** The same probe on a net.Socket: where the bare handle is not available, or `addr` is a name. */
export function socketProbe(def: CheckDef, addr: string, port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = connect({ host: addr, port });
    const timer = setTimeout(() => finish(timedOut(def, hostPort(addr, port))), def.timeoutMs);
    function finish(o: Outcome) {
      clearTimeout(timer);
      if (sock.readyState === 'open') sock.resetAndDestroy();
      else sock.destroy();
      resolve(o);
    }
    sock.on('connect', () => finish({ status: 'passing', output: `connected to ${hostPort(addr, port)}` }));
    sock.on('error', (err) => finish(critical(`connect ${hostPort(addr, port)}: ${err.message}`)));
  });
}

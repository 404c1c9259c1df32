// The DNS server's UDP hot path on the socket's libuv handle (node's udp_wrap binding, which
// dgram itself is built on), without dgram's per-datagram layers.
//
// Why: a query is one read and one send, and at dnsperf's full rate the kernel's part of
// them is most of a query's cost. Of what is left, dgram adds per datagram an EventEmitter
// emit on the way in, and on the way out argument checks, a SendWrap object, and (on a
// socket a worker got over IPC, whose lookup is dgram's default) a dns.lookup of the
// literal address and a tick. On the handle, an answer is one call with one reused request:
// ~9 % less CPU per query at a fixed 30,000 queries/s (26-28 against 29-31 us, agent and
// worker together; bench/dns.ts reports the CPU per query at 20,000).
//
// A send the kernel does not take at once (its buffer is full) is queued by libuv with its
// request, which is then libuv's until it completes: the request holds the answer's bytes
// (so they outlive the call) and a new one is made for the next send. The agent runs with
// --test-udp-no-try-send (src/node-flags.ts), so every send takes that way: the answers made
// while libuv reads a burst of queries wait in its queue and leave together (sendmmsg).
//
// The binding and the handle are node internals: when this node lacks them the socket is
// served through dgram as before (`viaHandle` false), and `WEFT_DNS_UDP=dgram` forces that.
import type dgram from 'node:dgram';
import { getSystemErrorName } from 'node:util';

/** Sends one datagram from the socket; an error (no route, socket closed) drops it, as dgram does without a callback. */
export type UdpSend = (out: Buffer, port: number, address: string) => void;

/** How the socket is served, and how often libuv had to queue an answer. */
export interface UdpPath {
  readonly send: UdpSend;
  readonly viaHandle: boolean;
  /** Sends handed to libuv's queue, not sent in the call: a full kernel buffer, or every one under --test-udp-no-try-send (always 0 through dgram). */
  readonly queued: () => number;
}

interface SendWrap {
  list?: Buffer;
}

interface UdpHandle {
  recvStart?(): number;
  recvStop?(): number;
  onmessage: (nread: number, handle: unknown, buf: Buffer, rinfo: { address: string; port: number }) => void;
  send(req: SendWrap, list: Buffer[], count: number, port: number, address: string, hasCallback: boolean): number;
}

const SendWrapCtor = ((): (new () => SendWrap) | undefined => {
  try {
    const b = (process as unknown as { binding(n: string): Record<string, unknown> }).binding('udp_wrap');
    return typeof b.SendWrap === 'function' ? (b.SendWrap as new () => SendWrap) : undefined;
  } catch {
    return undefined;
  }
})();

/** The bound socket's libuv handle, where dgram keeps it (its state symbol), or undefined. */
function handleOf(sock: dgram.Socket): UdpHandle | undefined {
  const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  const state = sym === undefined ? undefined : (sock as unknown as Record<symbol, { handle?: unknown }>)[sym];
  const h = state?.handle as Partial<UdpHandle> | null | undefined;
  if (!h || typeof h.send !== 'function' || typeof h.onmessage !== 'function') return undefined;
  return h as UdpHandle;
}

/**
 * Stops or resumes reading `sock`; what is sent from it still goes out, and datagrams wait
 * in the kernel for whoever else reads the socket (a DNS worker holding the same one). False
 * when this node's socket has no handle to ask: it keeps being read.
 */
export function setReading(sock: dgram.Socket, on: boolean): boolean {
  const h = handleOf(sock);
  if (typeof h?.recvStart !== 'function' || typeof h.recvStop !== 'function') return false;
  // recvStart on a handle already reading is harmless (udp_wrap takes UV_EALREADY as done).
  return (on ? h.recvStart() : h.recvStop()) === 0;
}

/** Whether this node has the binding (else every socket is served through dgram). */
export const handlePathAvailable = SendWrapCtor !== undefined;

/**
 * Serves the bound socket `sock`: `onDatagram` for each datagram it reads, and the returned
 * path's `send` for answers. `sock` stays the owner (close, errors, passing it to a worker).
 */
export function serveUdp(
  sock: dgram.Socket,
  onDatagram: (msg: Buffer, address: string, port: number) => void,
  opts: { viaHandle?: boolean } = {},
): UdpPath {
  const handle = SendWrapCtor && (opts.viaHandle ?? process.env.WEFT_DNS_UDP !== 'dgram') ? handleOf(sock) : undefined;
  if (!handle || !SendWrapCtor) {
    sock.on('message', (msg, rinfo) => onDatagram(msg, rinfo.address, rinfo.port));
    const send: UdpSend = (out, port, address) => {
      try {
        sock.send(out, port, address);
      } catch {
        // closed (ERR_SOCKET_DGRAM_NOT_RUNNING): a forwarded answer that came back after its
        // listen address was removed has nobody to go to
      }
    };
    return { send, viaHandle: false, queued: () => 0 };
  }
  const Wrap = SendWrapCtor;
  let queued = 0;
  let req = new Wrap();
  const list: Buffer[] = [];
  handle.onmessage = (nread, _h, buf, rinfo) => {
    if (nread >= 0) onDatagram(buf, rinfo.address, rinfo.port);
    // As dgram reports a failed read: to the socket's error listeners.
    else sock.emit('error', Object.assign(new Error(`recvmsg ${getSystemErrorName(nread)}`), { errno: nread }));
  };
  // A closed handle refuses the send (EBADF, returned, not thrown), as a full one queues it.
  const send: UdpSend = (out, port, address) => {
    req.list = out;
    list[0] = out;
    const r = handle.send(req, list, 1, port, address, false);
    if (r === 0) {
      queued++;
      req = new Wrap();
    } else req.list = undefined;
  };
  return { send, viaHandle: true, queued: () => queued };
}

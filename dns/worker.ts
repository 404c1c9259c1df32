// A DNS worker process: answers UDP queries for the zone from the agent's own listening
// sockets, passed to it over IPC (the same file descriptor: the kernel hands each datagram
// to whichever process reads first). It keeps its own copy of the zone, built by the same
// zone.ts from the store events the agent relays, and its own rate limiter holding a share of
// the limit (one per process reading, the agent among them or not: agent-reading.ts, which
// the worker's load reports feed). Anything else (names to forward or refuse) goes back to
// the agent as it came, unless MAX_RELAY_BACKLOG relays are still waiting to be written to a
// slow agent: then it is answered SERVFAIL here (counted, relay_backlog), as the agent's
// forwarder answers when overloaded. A client gets a prompt failure (and tries its next
// server) rather than a timeout, the answer is no bigger than the query and goes through the
// rate limit, and the worker's memory stays bounded however long the agent is busy.
// It exits when the agent goes away (the IPC channel closes).
//
// Started by worker-pool.ts: node dns/worker.js
import type dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { Responder } from './answer.js';
import { RecursionAcl } from './client-acl.js';
import { DEFAULTS } from './defaults.js';
import { NetSet, parseNet, type Net } from './netset.js';
import { ResponseRateLimiter, RRL_SEND, RRL_SLIP, slipResponse } from './rrl.js';
import { DnsStats } from './stats.js';
import { RCODE } from './wire.js';
import { Zone } from './zone.js';
import { serveUdp, type UdpSend } from './udp-handle.js';
import { LOAD_REPORT_MS } from './agent-reading.js';
import {
  MAX_RELAY_BACKLOG,
  type FromWorker,
  type RelayCounts,
  type ToWorker,
  type WorkerInit,
  type ZoneEvent,
} from './worker-protocol.js';

/** Over UDP an untrusted client gets at most this many times its query (server.ts's UNTRUSTED_AMPLIFICATION). */
const AMPLIFICATION = 3;
/** How often the counters go to the agent (only when they changed): the metrics lag by at most this. */
const STATS_MS = 1000;

class DnsWorker {
  private readonly zone: Zone;
  private readonly responder: Responder;
  private readonly acl: RecursionAcl;
  private readonly rrl: ResponseRateLimiter;
  private readonly stats = new DnsStats();
  private readonly sockets = new Map<string, dgram.Socket>();
  private seq = 0;
  /** Datagrams read, and how many the last report covered. */
  private packets = 0;
  private reported = -1;
  private reportedSeq = -1;
  /** Relays handed to process.send whose write has not completed (the agent is not reading). */
  private relaying = 0;
  private readonly relays: RelayCounts = { sent: 0, refused: { relay_backlog: 0 } };

  constructor(init: WorkerInit) {
    this.zone = new Zone({ domain: init.domain, ttlS: init.ttlS, nodeName: init.nodeName });
    this.responder = new Responder(this.zone, this.stats, undefined, {
      maxUdpPayload: init.maxUdpPayload,
      forwardsElsewhere: init.forwards,
    });
    this.acl = new RecursionAcl({
      allow: init.recursionAllow,
      overlayCidr: init.overlayCidr,
      interfaces: networkInterfaces,
    });
    const rl = init.rateLimit;
    this.rrl = new ResponseRateLimiter({
      ratePerS: rl.ratePerS,
      burst: rl.burst,
      slip: rl.slip,
      maxClients: rl.maxClients,
      exempt: new NetSet(rl.exempt.map((c) => parseNet(c)).filter((n): n is Net => n !== undefined)),
    });
    this.rrl.share(init.readers);
    setInterval(() => this.report(), STATS_MS).unref();
    let mark = performance.eventLoopUtilization();
    let [packets, relays] = [0, 0];
    setInterval(() => {
      const now = performance.eventLoopUtilization();
      const read = this.packets - packets;
      const relayed = read > 0 ? (this.relays.sent - relays) / read : 0;
      send({
        t: 'load',
        busy: performance.eventLoopUtilization(now, mark).utilization,
        relayed,
        sockets: this.sockets.size,
      });
      [mark, packets, relays] = [now, this.packets, this.relays.sent];
    }, LOAD_REPORT_MS).unref();
    setInterval(() => this.acl.refresh(performance.now()), DEFAULTS.housekeepingMs).unref();
  }

  onMessage(m: ToWorker, handle: unknown): void {
    if (m.t === 'zone') this.apply(m.seq, m.events);
    else if (m.t === 'readers') this.rrl.share(m.n);
    else if (m.t === 'socket') this.listen(m.at, handle as dgram.Socket);
    else if (m.t === 'close') {
      this.sockets.get(m.at)?.close();
      this.sockets.delete(m.at);
    }
  }

  private apply(seq: number, events: ZoneEvent[]): void {
    for (const ev of events) {
      if (ev.k === 'node') this.zone.onNode(ev.e);
      else if (ev.k === 'svc') this.zone.onEndpoint(ev.e);
      else this.zone.setVip(ev.vip, ev.addr, ev.addr6);
    }
    this.seq = seq;
    // The agent's lag gauge (and its tests) learn the new version now, not at the next report.
    this.report();
  }

  private listen(at: string, sock: dgram.Socket): void {
    this.sockets.set(at, sock);
    sock.on('error', () => {});
    const { send } = serveUdp(sock, (msg, address, port) => this.onUdp(at, send, msg, address, port));
  }

  private onUdp(at: string, send: UdpSend, msg: Buffer, address: string, port: number): void {
    const t0 = performance.now();
    this.packets++;
    const r = this.responder;
    const trusted = this.acl.allows(address, t0);
    let out = r.handle(msg, false, trusted ? 0 : AMPLIFICATION * msg.length);
    if (out === undefined) {
      if (!r.wantsForward) return;
      if (this.relaying < MAX_RELAY_BACKLOG) {
        r.dropForward();
        this.relay({ t: 'relay', at, msg, address, port });
        return;
      }
      this.relays.refused.relay_backlog++;
      out = r.refuseForward(RCODE.SERVFAIL);
    }
    const v = this.rrl.check(address, t0);
    if (v === RRL_SEND) send(out, port, address);
    else if (v === RRL_SLIP) send(slipResponse(out), port, address);
    this.stats.observe(r.lastSource, (performance.now() - t0) / 1000);
  }

  /** To the agent, counted until written: the callback comes once the message left the queue. */
  private relay(m: FromWorker): void {
    if (!process.connected) return;
    this.relaying++;
    this.relays.sent++;
    process.send!(m, undefined, undefined, () => this.relaying--);
  }

  private report(): void {
    if (this.packets === this.reported && this.seq === this.reportedSeq) return;
    this.reported = this.packets;
    this.reportedSeq = this.seq;
    send({
      t: 'stats',
      seq: this.seq,
      packets: this.packets,
      stats: this.stats.snapshot(),
      limited: { slipped: this.rrl.slipped, dropped: this.rrl.dropped },
      relays: { sent: this.relays.sent, refused: { ...this.relays.refused } },
    });
  }
}

function send(m: FromWorker): void {
  if (process.connected) process.send!(m);
}

let worker: DnsWorker | undefined;
process.on('message', (m: ToWorker, handle: unknown) => {
  if (m.t === 'init') worker = new DnsWorker(m.init);
  else worker?.onMessage(m, handle);
});
// Listening now: the agent sends init, the zone and the sockets in answer.
send({ t: 'ready', pid: process.pid });
// The agent is gone (or let go of us): nothing left to answer for.
process.on('disconnect', () => process.exit(0));

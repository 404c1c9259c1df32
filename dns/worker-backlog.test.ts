// A DNS worker relays the queries it cannot answer (names to forward) to the agent over IPC.
// When the agent is slow to read them (its event loop busy) and clients flood such names, the
// relays must not pile up in the worker without bound: past MAX_RELAY_BACKLOG relays not yet
// written, a query is answered SERVFAIL and counted (relay_backlog). A real worker process
// reading a real UDP socket on loopback; the "agent" is this process, blocked while a thread
// floods.
import t from 'tap';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { setReading } from './udp-handle.js';
import { DnsWorkerPool } from './worker-pool.js';
import { MAX_RELAY_BACKLOG } from './worker-protocol.js';
import { ResponseRateLimiter } from './rrl.js';
import { NetSet } from './netset.js';
import { registerDnsMetrics } from './metrics.js';
import { DnsStats } from './stats.js';
import { Zone } from './zone.js';
import { newStore, query } from '../test/helpers/dns.js';
import { eventually } from '../test/helpers/eventually.js';

/**
 * The flood, while the agent is blocked: distinct queries sent round and round until
 * ENOUGH_SERVFAILS answers show the bound at work, or at most MAX_FLOOD (a loaded host reads
 * fewer than it is sent: the flood goes on until the worker has read past its bound).
 */
const DISTINCT = 10_000;
const ENOUGH_SERVFAILS = 2_000;
const MAX_FLOOD = 60_000;
/**
 * Relays the kernel holds on top of the worker's own bound: the IPC socket's buffers (a relay
 * is written once it is there). Measured about 300 here; generous (before the bound, every
 * relay of the flood reached the agent: 18,676 of them).
 */
const KERNEL_SLACK = 4_000;

// Runs in a thread of this process, so that it floods while the main thread (the agent) is
// blocked; it wakes the main thread when done. CommonJS: an eval'd worker is a script.
const FLOOD_CODE = `
const { workerData, parentPort } = require('node:worker_threads');
const dgram = require('node:dgram');
const { port, packets, flag, enough, max } = workerData;
const s = dgram.createSocket('udp4');
const rcodes = {};
let sent = 0;
s.on('message', (m) => { const r = m[3] & 0xf; rcodes[r] = (rcodes[r] || 0) + 1; });
parentPort.on('message', () => parentPort.postMessage({ rcodes, sent }));
s.bind(0, '127.0.0.1', async () => {
  s.setRecvBufferSize(8 << 20);
  for (; sent < max && (rcodes[2] || 0) < enough; sent++) {
    s.send(packets[sent % packets.length], port, '127.0.0.1');
    if (sent % 100 === 99) await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 1000));
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

t.test('a flood of names to forward while the agent is slow: the worker relays at most its bound', async (t) => {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => sock.close());
  sock.setRecvBufferSize(8 << 20);
  const { port } = sock.address();
  let relayed = 0;
  const noLimit = { ratePerS: 0, burst: 1, slip: 2, exempt: [] as string[] };
  const pool = new DnsWorkerPool({
    count: 1,
    init: { domain: 'weft.internal.', ttlS: 5, maxUdpPayload: 1232, forwards: true, rateLimit: noLimit },
    source: newStore('n1'),
    rrl: new ResponseRateLimiter({ ...noLimit, exempt: new NetSet([]) }),
    sockets: () => [[`127.0.0.1:${port}`, sock]],
    setAgentReading: (on) => setReading(sock, on),
    relay: () => relayed++,
    log: quiet,
    // Compiled (npx tsc -p tsconfig.json): through tap's TypeScript loader a worker takes many seconds to start.
    script: fileURLToPath(new URL('../dist/dns/worker.js', import.meta.url)),
    idleMs: Infinity,
  });
  t.teardown(() => pool.stop());
  pool.start();
  await eventually('the worker runs', () => pool.running === 1, 30_000);

  const flag = new Int32Array(new SharedArrayBuffer(4));
  const packets = Array.from({ length: DISTINCT }, (_, i) => query(`f${i}.example.test`, 'A', { id: i }));
  const workerData = { port, packets, flag, enough: ENOUGH_SERVFAILS, max: MAX_FLOOD };
  const flood = new Worker(FLOOD_CODE, { eval: true, workerData });
  t.teardown(() => flood.terminate());
  // The agent's event loop is busy for the whole flood: it reads neither the socket nor the IPC channel.
  Atomics.wait(flag, 0, 0, 60_000);

  // The agent catches up: it reads every relay the worker wrote, and the worker's report of what it read.
  let last = -1;
  await eventually('the relays stop coming', () => relayed === last || ((last = relayed), false), 60_000, 1000);
  t.ok(
    relayed <= MAX_RELAY_BACKLOG + KERNEL_SLACK,
    `relays that reached the agent: ${relayed}, at most the bound (${MAX_RELAY_BACKLOG}) and what the kernel buffers`,
  );
  await eventually('the worker reported all it read', () => pool.relays().sent === relayed, 30_000);
  const { sent, refused } = pool.relays();
  const read = pool.packets();
  const { rcodes, sent: flooded } = await new Promise<{ rcodes: Record<number, number>; sent: number }>(
    (r) => (flood.once('message', r), flood.postMessage(0)),
  );
  t.ok(refused.relay_backlog > 0, `the worker read past its bound (${read} of ${flooded} queries sent)`);
  const registry = new Registry();
  const own = new DnsStats();
  const limited = () => ({ slipped: 0, dropped: 0 });
  registerDnsMetrics(registry, { own, all: () => own, limited, workers: pool }, new Zone(), undefined);
  t.match(
    await registry.metrics(),
    `weft_dns_worker_relays_refused_total{reason="relay_backlog"} ${refused.relay_backlog}`,
    'counted in the metrics the agent exposes',
  );
  t.equal(
    sent + refused.relay_backlog,
    read,
    `every query read was relayed (${sent}) or refused (${refused.relay_backlog})`,
  );
  t.ok((rcodes[2] ?? 0) > 0, `the refused clients got SERVFAIL (${rcodes[2] ?? 0} answers), not silence`);

  // The backlog drained: the next name to forward is relayed again.
  const probe = dgram.createSocket('udp4');
  t.teardown(() => probe.close());
  const before = relayed;
  await eventually(
    'a query after the flood is relayed',
    () => (probe.send(query('after.example.test', 'A'), port, '127.0.0.1'), relayed > before),
    10_000,
    200,
  );
});

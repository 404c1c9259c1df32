// A membership-only weft node for `npm run bench -- membership`: the SWIM driver alone
// (membership/), lan preset, no store, DNS, LB or supervision. It speaks just enough of the
// agent's surface for bench/membership-real.ts to treat it as an agent: the same JSON log
// lines for member events ("member X is suspect"), a ready line naming its API, and an HTTP
// API on port 0 with /v1/members and the two gossip counters of /metrics. 50 full agents
// and 50 serf agents do not fit on a 2-core machine; 50 of these do.
//
// Run: `node dist/bench/membership-only.js --node NAME --bind ADDR --bind-port PORT [--join ADDR:PORT]`.

import { createServer } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Membership, makeConfig, type MemberInfo } from '../membership/index.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    bind: { type: 'string', default: '127.0.0.1' },
    'bind-port': { type: 'string', default: '0' },
    join: { type: 'string' },
  },
});

const log = (fields: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: Date.now(), ...fields })}\n`);

const membership = await Membership.start({
  name: values.node ?? 'node',
  bindAddr: values.bind ?? '127.0.0.1',
  bindPort: Number(values['bind-port']),
  config: makeConfig('lan'),
  onError: (err, context) => log({ level: 'warn', msg: `${context}: ${err.message}` }),
});
for (const type of ['join', 'suspect', 'dead', 'alive'] as const) {
  membership.on(type, (m: MemberInfo) => {
    const msg = type === 'join' ? `member ${m.name} joined` : `member ${m.name} is ${type}`;
    log({ level: 'info', msg, member: m.name, incarnation: m.incarnation });
  });
}

// Evidence for false deaths (issue 17): every event-loop stall over STALL_LOG_MS, measured
// by perf_hooks, with the CPU this process used meanwhile (high: our own work, GC or JIT;
// low: the host did not run us) and its GC pauses; and every refutation we sent (our
// incarnation then). bench/membership-trace.ts lines them up with each false death.
const STALL_LOG_MS = 300;
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
let refutations = 0;
let cpu = process.cpuUsage();
let windowStart = performance.now();
setInterval(() => {
  const maxMs = loopDelay.max / 1e6;
  loopDelay.reset();
  const used = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  const windowMs = performance.now() - windowStart;
  windowStart = performance.now();
  if (maxMs > STALL_LOG_MS) {
    const cpuMs = Math.round((used.user + used.system) / 1000);
    log({
      level: 'info',
      msg: 'loop stall',
      stall_ms: Math.round(maxMs),
      window_ms: Math.round(windowMs),
      cpu_ms: cpuMs,
      gc_ms: Math.round(gcMs),
    });
  }
  gcMs = 0;
  const s = membership.stats().swim;
  if (s.refutations !== refutations) {
    refutations = s.refutations;
    const me = membership.localMember();
    log({ level: 'info', msg: 'refuted', refutations, incarnation: me.incarnation, health: s.healthScore });
  }
}, 250).unref();

const server = createServer((req, res) => {
  if (req.url === '/v1/members') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ members: membership.members().map((m) => ({ name: m.name, state: m.state })) }));
  } else if (req.url === '/metrics') {
    const s = membership.stats();
    res.end(
      `weft_gossip_bytes_out_total ${s.transport.packetBytesOut + s.transport.streamBytesOut}\n` +
        `weft_gossip_packets_out_total ${s.transport.packetsOut}\n` +
        `weft_gossip_health_score ${s.swim.healthScore}\n`,
    );
  } else {
    res.statusCode = 404;
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  log({ level: 'info', msg: 'weft agent ready', api: `http://127.0.0.1:${port}` });
  if (values.join) void joinUntilAnswered(values.join);
});

/** As the agent's --join: retried until a seed answers (the seed may still be starting). */
async function joinUntilAnswered(seed: string): Promise<void> {
  for (;;) {
    const answered = await membership.join([seed]).catch(() => 0);
    if (answered > 0) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const stop = () => {
  server.close();
  void membership.leave(0).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

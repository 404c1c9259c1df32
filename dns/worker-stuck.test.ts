// A DNS worker whose event loop is stuck (worker-pool.ts watch()): it stops reading and
// reporting, so the agent, which had stepped aside for it, must read the sockets again
// within SILENT_MS, and the stuck process is killed and replaced after HUNG_MS. Real worker
// processes on loopback (worker-stuck.fixture: the real worker, stuck 1.5 s after it starts).
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { decode, query } from '../test/helpers/dns.js';
import { serverWithWorker } from '../test/helpers/dns-worker.js';
import { eventually } from '../test/helpers/eventually.js';
import type { Log } from '../base/log.js';
import { HUNG_MS, SILENT_MS } from './worker-pool.js';

t.test('a stuck worker: the agent reads again, and the worker is replaced', async (t) => {
  const warned: string[] = [];
  const log: Log = { debug() {}, info() {}, warn: (_o, m) => void warned.push(m ?? ''), error() {} };
  const {
    dns,
    port,
    client: sock,
  } = await serverWithWorker(t, {
    workerStartQps: 0,
    log,
    workerScript: fileURLToPath(new URL('../dist/dns/worker-stuck.fixture.js', import.meta.url)),
  });
  const pool = dns.workers!;
  const answered = new Set<number>();
  sock.on('message', (m) => answered.add(decode(m).id));
  const ask = (id: number) => sock.send(query('web.svc.weft.internal', 'A', { id }), port, '127.0.0.1');

  await eventually(
    'the worker reads alone (the agent stepped aside)',
    () => pool.running === 1 && pool.readers === 1,
    30_000,
  );
  const [stuck] = pool.pids;
  // Stuck 1.5 s after it got its socket: from then on only the agent can answer.
  await new Promise((r) => setTimeout(r, 2_000));
  let id = 1;
  const took = await eventually(
    "a query to the stuck worker's socket is answered",
    () => (answered.has(id) ? true : (ask(++id), false)),
    SILENT_MS + 6_000,
    100,
  );
  t.ok(
    took <= SILENT_MS + 4_000,
    `answered ${took} ms after the first query, the worker stuck for 0.5 s or more by then (the agent reads again)`,
  );
  await eventually(
    'the stuck worker is replaced',
    () => pool.restarts >= 1 && !pool.pids.includes(stuck!),
    HUNG_MS + 10_000,
  );
  t.ok(
    warned.some((m) => m.includes('stopped reporting')),
    'its killing is logged',
  );
});

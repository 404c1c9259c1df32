// DNS workers come and go with the load (worker-pool.ts): started when queries arrive faster
// than workerStartQps, stopped after workerIdleMs without one, started again by the next
// load, and gone when the server stops; and a worker that reports its load while it is being
// stopped does not leave the sockets unread. Real worker processes on loopback.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { decode, query } from '../test/helpers/dns.js';
import { serverWithWorker } from '../test/helpers/dns-worker.js';
import { eventually } from '../test/helpers/eventually.js';
import { pidAlive as alive } from '../test/helpers/leftovers.js';
import type { Log } from '../base/log.js';
import type dgram from 'node:dgram';

/** A burst of 3,000 queries from `sock`: far above workerStartQps, answered by whoever reads. */
const load = (sock: dgram.Socket, port: number) => {
  for (let i = 0; i < 3000; i++) sock.send(query('web.svc.weft.internal', 'A', { id: i }), port, '127.0.0.1');
};

t.test('workers start under load, stop when idle, start again, and go with the server', async (t) => {
  // What the pool logs, for a failure to show (one CI run in 20 saw no second worker start:
  // the case of the next test, found after).
  const logged: string[] = [];
  const keep = (level: string) => (o: object, m?: string) =>
    void logged.push(`${level} ${m ?? ''} ${JSON.stringify(o)}`);
  const log: Log = { debug() {}, info: keep('info'), warn: keep('warn'), error: keep('error') };
  // workerStartQps low: this process both sends the load and answers it.
  const { dns, port, client: sock } = await serverWithWorker(t, { workerStartQps: 200, workerIdleMs: 3000, log });
  const pool = dns.workers!;
  const state = (what: string) => () =>
    `${what} (running ${pool.running}, pids ${pool.pids.join(',') || 'none'}, restarts ${pool.restarts}; log: ${logged.join(' | ')})`;
  const replies: number[] = [];
  sock.on('message', (m) => replies.push(decode(m).answers.length));

  t.equal(pool.running, 0, 'no worker before any load');
  await eventually(state('a worker runs under load'), () => (load(sock, port), pool.running === 1), 30_000, 300);
  const [first] = pool.pids;
  await eventually(state('the idle worker is gone'), () => pool.running === 0 && !alive(first!), 30_000);
  t.equal(pool.restarts, 0, 'stopping an idle worker is no restart');
  replies.length = 0;
  await eventually(state('the next load starts one again'), () => (load(sock, port), pool.running === 1), 30_000, 300);
  t.not(pool.pids[0], first, 'a new process');
  t.ok(replies.length > 0 && replies.every((n) => n === 1), 'every answer carries the address meanwhile');
  const [second] = pool.pids;
  await dns.stop();
  await eventually('the worker goes with the server', () => !alive(second!), 10_000);
});

t.test('a worker stopped for idleness that still reports its load does not leave the socket unread', async (t) => {
  const {
    dns,
    port,
    client: sock,
  } = await serverWithWorker(t, {
    workerStartQps: 200,
    workerIdleMs: 1000,
    workerScript: fileURLToPath(new URL('../dist/dns/worker-slow-exit.fixture.js', import.meta.url)),
  });
  const pool = dns.workers!;
  const answered = new Set<number>();
  sock.on('message', (m) => answered.add(decode(m).id));
  await eventually('a worker runs under load', () => (load(sock, port), pool.running === 1), 30_000, 300);
  const [first] = pool.pids;
  await eventually('the idle worker is gone', () => pool.running === 0 && !alive(first!), 30_000);
  // Its last reports, read while it was being stopped, were of a calm worker: the agent must
  // not have stepped aside for a worker that is gone.
  const id = 40_000;
  await eventually(
    'a query after the worker left is answered',
    () => (sock.send(query('web.svc.weft.internal', 'A', { id }), port, '127.0.0.1'), answered.has(id)),
    5_000,
    250,
  );
});

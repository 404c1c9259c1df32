// Who reads the DNS sockets while a worker runs (worker-pool.ts, agent-reading.ts): the
// worker alone while it keeps up, so every answer is its own and the agent is not woken for
// each query; the agent again at once when the worker is killed. Real worker processes on
// loopback.
import t from 'tap';
import { decode, query } from '../test/helpers/dns.js';
import { serverWithWorker } from '../test/helpers/dns-worker.js';
import { eventually } from '../test/helpers/eventually.js';

t.test('the agent steps aside while its worker keeps up, and reads again when it is gone', async (t) => {
  const { dns, port, client: sock } = await serverWithWorker(t, { workerStartQps: 0 });
  const pool = dns.workers!;
  let replies = 0;
  let wrong = 0;
  sock.on('message', (m) => (decode(m).answers.length === 1 ? replies++ : wrong++));
  /** Sends `n` queries, ten every 5 ms, and waits until all are answered. */
  const ask = async (what: string, n: number): Promise<void> => {
    const want = replies + n;
    for (let i = 0; i < n; i++) {
      sock.send(query('web.svc.weft.internal', 'A', { id: i }), port, '127.0.0.1');
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
    await eventually(what, () => replies >= want, 5_000);
  };
  const readersGauge = async () => (await dns.registry.getSingleMetric('weft_dns_udp_readers')!.get()).values[0]?.value;

  await eventually(
    'the worker runs and the agent stepped aside',
    () => pool.running === 1 && pool.readers === 1,
    30_000,
  );
  t.equal(await readersGauge(), 1, 'weft_dns_udp_readers says one process reads');
  const own = dns.stats.total;
  const byWorker = pool.answers();
  await ask('every query answered', 300);
  await eventually('the worker reported its answers', () => pool.answers() - byWorker >= 300, 5_000);
  t.equal(dns.stats.total, own, 'none of them by the agent');

  const [pid] = pool.pids;
  process.kill(pid!, 'SIGKILL');
  await eventually('the agent reads again', () => pool.running === 0 && pool.readers === 1, 10_000);
  const before = dns.stats.total;
  await ask('every query answered without the worker', 100);
  t.ok(dns.stats.total - before >= 100, 'by the agent');
  await eventually(
    'a new worker runs and the agent steps aside again',
    () => pool.running === 1 && pool.readers === 1,
    30_000,
  );
  t.equal(wrong, 0, 'every answer carried the address');
});

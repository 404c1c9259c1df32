// DNS worker processes in a real agent (dns/worker-pool.ts): started by load, they answer
// from the same zone as the agent after a change, hostile packets are counted (in the
// agent's metrics, summed over the processes) and crash nothing, and a killed worker is
// replaced while the agent keeps answering.
import t from 'tap';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { decode, query } from '../test/helpers/dns.js';
import { TestUpstream } from './upstream.fixture.js';

const DNS = '127.0.0.1';

async function metric(agent: AgentProcess, name: string, label = ''): Promise<number> {
  const text = await (await fetch(`${agent.ready.api}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if ((line.startsWith(`${name} `) || line.startsWith(`${name}{`)) && line.includes(label))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** Sends every packet at once from one socket; the replies by id, after up to `waitMs`. */
async function blast(port: number, packets: Buffer[], waitMs = 3000): Promise<Map<number, Buffer>> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, DNS, () => r()));
  s.setRecvBufferSize(4 << 20);
  const replies = new Map<number, Buffer>();
  s.on('message', (m) => m.length >= 2 && replies.set(m.readUInt16BE(0), m));
  for (const p of packets) s.send(p, port, DNS);
  for (let w = 0; w < waitMs && replies.size < packets.length; w += 20) await new Promise((r) => setTimeout(r, 20));
  s.close();
  return replies;
}

const many = (name: string, n: number) => Array.from({ length: n }, (_, i) => query(name, 'A', { id: i }));

async function register(agent: AgentProcess, service: string, id: string, addr: string): Promise<void> {
  const res = await fetch(`${agent.ready.api}/v1/services`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service, id, addrs: [addr] }),
  });
  if (res.status >= 300) throw new Error(`register: ${res.status} ${await res.text()}`);
}

function workerPids(agent: AgentProcess): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(agent.proc.pid), '-f', 'dns/worker'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Load until the agent runs its worker (queries faster than dns.workers' threshold). */
async function startWorkers(agent: AgentProcess, port: number): Promise<void> {
  await eventually(
    'a DNS worker answers',
    async () => {
      await blast(port, many('w.node.weft.internal', 3000), 500);
      return (await metric(agent, 'weft_dns_workers')) === 1;
    },
    30_000,
  );
}

/** Asks `name` n times at once; whether every reply says exactly `addr`, and how many replies came. */
async function allSay(port: number, name: string, addr: string, n = 400): Promise<{ ok: boolean; replies: number }> {
  const replies = await blast(port, many(name, n));
  const wrong = [...replies.values()].filter((b) => {
    const d = decode(b);
    return d.rcode !== 'NOERROR' || d.answers.map((a) => a.data).join() !== addr;
  });
  return { ok: wrong.length === 0 && replies.size >= n * 0.9, replies: replies.size };
}

/** A round of allSay that the worker took part in (its answer count grew; it reports every second). */
async function allSayWithWorker(agent: AgentProcess, port: number, name: string, addr: string): Promise<boolean> {
  const before = await metric(agent, 'weft_dns_worker_answers_total');
  if (!(await allSay(port, name, addr)).ok) return false;
  for (let i = 0; i < 15; i++) {
    if ((await metric(agent, 'weft_dns_worker_answers_total')) > before) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

t.test('DNS workers: same zone, hostile packets, a killed worker', async (t) => {
  const up = await TestUpstream.start('127.0.7.71', (q) => ({
    answers: [{ type: 'A', name: q.name, ttl: 60, data: '192.0.2.7' }],
  }));
  t.teardown(() => up.close());
  const agent = await startAgent(
    t,
    ['--node', 'w', '--bind', '127.0.0.1', '--dns-workers', '1', '--dns-forward', 'true', '--dns-upstreams', up.label],
    {},
    // The agent starts in seconds; a busy CI machine has taken over 30.
    90_000,
  );
  const port = Number(agent.ready.dns!.split(':')[1]);
  await register(agent, 'web', 'web1', '10.9.0.1');
  await eventually('web resolves', async () => (await allSay(port, 'web.svc.weft.internal', '10.9.0.1', 5)).ok, 10_000);
  await startWorkers(agent, port);
  const [pid] = workerPids(agent);
  t.ok(pid, 'the worker is a child process of the agent');

  await t.test('hostile packets are counted across the processes and crash nothing', async (t) => {
    const before = await metric(agent, 'weft_dns_malformed_packets_total');
    const q = query('web.svc.weft.internal', 'A', { edns: false });
    const pointer = Buffer.from(q);
    pointer[12] = 0xc0; // a compression pointer as the question's first label
    pointer[13] = 0x0c;
    const withOpt = query('web.svc.weft.internal', 'A');
    const twoOpts = Buffer.concat([withOpt, withOpt.subarray(withOpt.length - 11)]);
    twoOpts.writeUInt16BE(2, 10);
    const optInAnswer = Buffer.from(withOpt);
    optInAnswer.writeUInt16BE(1, 6);
    optInAnswer.writeUInt16BE(0, 10);
    const response = Buffer.from(q);
    response[2] |= 0x80;
    const kinds = [Buffer.from([1, 2, 3, 4, 5]), q.subarray(0, 20), pointer, twoOpts, optInAnswer, response];
    const each = 300;
    const packets = kinds.flatMap((k) => Array.from({ length: each }, () => k));
    await blast(port, packets, 500);
    await eventually(
      'every hostile packet counted once, by the agent or its worker',
      async () => (await metric(agent, 'weft_dns_malformed_packets_total')) - before === kinds.length * each,
      20_000,
      250,
    );
    // Wrong class and EDNS version 1: answered (REFUSED, BADVERS), not malformed.
    const ch = query('web.svc.weft.internal', 'A', { edns: false, class: 'CH', id: 1 });
    const v1 = query('web.svc.weft.internal', 'A', { id: 2 });
    v1[v1.length - 5] = 1; // the OPT record's EDNS version
    const odd = await blast(port, [ch, v1]);
    t.equal(odd.get(1) && decode(odd.get(1)).rcode, 'REFUSED', 'another class is refused');
    t.equal(
      odd.get(2) && decode(odd.get(2)).additionals.find((a) => a.type === 'OPT')?.extendedRcode,
      1,
      'EDNS version 1 gets BADVERS (extended rcode 1 in the OPT record)',
    );
    t.same(workerPids(agent), [pid], 'the worker is the same process');
    t.equal(await metric(agent, 'weft_dns_worker_restarts_total'), 0, 'no worker restarted');
    t.ok((await allSay(port, 'web.svc.weft.internal', '10.9.0.1')).ok, 'and every answer is still right');
  });

  await t.test('a zone change reaches the worker: every answer says the new address', async (t) => {
    await register(agent, 'fresh', 'fresh1', '10.9.0.2');
    await eventually(
      'every answer for the new name is the new address, the worker answering part of them',
      () => allSayWithWorker(agent, port, 'fresh.svc.weft.internal', '10.9.0.2'),
      30_000,
      200,
    );
    t.equal(await metric(agent, 'weft_dns_worker_zone_lag'), 0, 'the worker is at the zone version of the agent');
    const again = await allSay(port, 'fresh.svc.weft.internal', '10.9.0.2', 1000);
    t.ok(again.ok, `1000 more queries all right (${again.replies} replies)`);
  });

  await t.test('names outside the zone that reach the worker go back to the agent and are forwarded', async (t) => {
    const r = await allSay(port, 'www.example.test', '192.0.2.7', 600);
    t.ok(r.ok, `every one answered from the upstream (${r.replies} replies of 600)`);
  });

  await t.test('a killed worker is replaced and DNS keeps answering', async (t) => {
    process.kill(pid!, 'SIGKILL');
    const during = await allSay(port, 'web.svc.weft.internal', '10.9.0.1', 200);
    t.ok(during.ok, 'the agent answers meanwhile');
    await eventually(
      'a new worker runs',
      async () =>
        (await metric(agent, 'weft_dns_worker_restarts_total')) === 1 &&
        (await metric(agent, 'weft_dns_workers')) === 1 &&
        workerPids(agent).length === 1 &&
        workerPids(agent)[0] !== pid,
      30_000,
      200,
    );
    await eventually(
      'the new worker answers right',
      () => allSayWithWorker(agent, port, 'fresh.svc.weft.internal', '10.9.0.2'),
      30_000,
      200,
    );
    t.equal(agent.proc.exitCode, null, 'the agent is still running');
  });
});

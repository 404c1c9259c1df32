// A service with 40 endpoints on a real agent, asked by clients that never retry over TCP
// (musl before 1.2.4, many embedded resolvers): a UDP answer too big for 512 bytes carries
// the whole records that fit, with TC, instead of none. TCP still carries all 40.
import dgram from 'node:dgram';
import t from 'tap';
import { startAgent } from '../test/helpers/agent-process.js';
import { decode, dig, query, type Decoded } from '../test/helpers/dns.js';
import { eventually } from '../test/helpers/eventually.js';
import { skipUnless } from '../test/helpers/system.js';

const N = 40;

/** One UDP query, one answer: the client ignores TC as musl did (no retry over TCP). */
function udpOnce(host: string, port: number, msg: Buffer): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => (sock.close(), reject(new Error('no UDP answer within 5 s'))), 5_000);
    sock.on('message', (b) => {
      clearTimeout(timer);
      sock.close();
      resolve(decode(b));
    });
    sock.send(msg, port, host);
  });
}

t.test('40 endpoints: a client that ignores TC still gets addresses; TCP gets all 40', async (t) => {
  const a = await startAgent(t, ['--node', 'tr1', '--bind', '127.0.7.1']);
  const [host, port] = [a.ready.dns!.split(':')[0], Number(a.ready.dns!.split(':')[1])];
  for (let i = 0; i < N; i++) {
    const r = await fetch(`${a.ready.api}/v1/services`, {
      method: 'POST',
      body: JSON.stringify({ service: 'many', id: `e${i}`, addrs: [`10.20.${i >> 8}.${(i & 0xff) + 1}`] }),
      headers: { 'content-type': 'application/json' },
    });
    t.equal(r.status, 201);
  }
  const name = 'many.svc.weft.internal';
  await eventually(
    `${N} endpoints over TCP`,
    async () => (await dig(host, port, [name, 'A', '+tcp'])).answer.length === N,
    20_000,
  );

  const plain = await udpOnce(host, port, query(name, 'A', { edns: false }));
  t.ok(plain.flag_tc, 'no EDNS: TC set, so a client that can retries over TCP');
  t.ok(plain.answers.length >= 20, `no EDNS: ${plain.answers.length} whole A records in 512 bytes, not none`);
  t.ok(
    plain.answers.every((r) => r.type === 'A' && /^10\.20\./.test(String(r.data))),
    'each one a real endpoint',
  );

  const small = await udpOnce(host, port, query(name, 'A', { edns: 600 }));
  t.ok(small.flag_tc && small.answers.length > plain.answers.length, `EDNS 600: ${small.answers.length} records, TC`);
  t.match(small.additionals, [{ type: 'OPT' }], 'the OPT record is kept');

  const srv = await udpOnce(host, port, query(name, 'A', { edns: 1232 }));
  t.notOk(srv.flag_tc, 'EDNS 1232: all 40 fit');
  t.equal(srv.answers.length, N);
});

t.test(
  'dig: +notcp +ignore shows the partial answer with tc; plain dig falls back to TCP',
  { skip: skipUnless({ commands: ['dig'] }) },
  async (t) => {
    const a = await startAgent(t, ['--node', 'tr2', '--bind', '127.0.7.2']);
    const [host, port] = [a.ready.dns!.split(':')[0], Number(a.ready.dns!.split(':')[1])];
    for (let i = 0; i < N; i++) {
      const r = await fetch(`${a.ready.api}/v1/services`, {
        method: 'POST',
        body: JSON.stringify({ service: 'many', id: `e${i}`, addrs: [`10.21.0.${i + 1}`] }),
        headers: { 'content-type': 'application/json' },
      });
      t.equal(r.status, 201);
    }
    const name = 'many.svc.weft.internal';
    await eventually(
      `${N} endpoints over TCP`,
      async () => (await dig(host, port, [name, 'A', '+tcp'])).answer.length === N,
      20_000,
    );
    const partial = await dig(host, port, [name, 'A', '+noedns', '+notcp', '+ignore']);
    t.ok(partial.flags.includes('tc'), 'tc flag');
    t.ok(partial.answer.length >= 20 && partial.answer.length < N, `dig +ignore sees ${partial.answer.length} records`);
    const full = await dig(host, port, [name, 'A', '+noedns']);
    t.equal(full.answer.length, N, 'dig without +ignore retries over TCP and gets all 40');
  },
);

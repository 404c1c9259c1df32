// A real agent takes the dns.* keys (recursion allow-list, rate limit and its exemptions):
// the e2e half of client-limits.test.ts, whose pieces are tested sans-IO there.
import t from 'tap';
import dgram from 'node:dgram';
import { TestUpstream } from './upstream.fixture.js';
import { startAgent } from '../test/helpers/agent-process.js';
import { decode, query } from '../test/helpers/dns.js';

t.test('a real agent takes the dns.* keys: recursion allow-list and rate limit', async (t) => {
  const up = await TestUpstream.start('127.0.6.50', (q) => ({
    answers: [{ type: 'A', name: q.name, ttl: 60, data: '192.0.2.1' }],
  }));
  t.teardown(() => up.close());
  const agent = await startAgent(t, [
    '--node',
    'acl1',
    '--bind-port',
    '0',
    '--dns-listen',
    '127.0.6.51:0',
    '--dns-forward',
    'true',
    '--dns-upstreams',
    up.label,
    '--dns-recursion-allow',
    '127.0.6.52/32',
    '--dns-rate-limit',
    '5',
    '--dns-rate-limit-exempt',
    '127.0.6.52/32',
  ]);
  const [host, port] = agent.ready.dns!.split(':');
  const ask = async (from: string, name: string, n = 1) => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, from, () => r()));
    const replies: ReturnType<typeof decode>[] = [];
    s.on('message', (m) => replies.push(decode(m)));
    for (let i = 0; i < n; i++) s.send(query(name, 'A', { id: i }), Number(port), host);
    await new Promise((r) => setTimeout(r, 300));
    s.close();
    return replies;
  };
  t.same(
    (await ask('127.0.6.52', 'www.example.test')).map((r) => r.rcode),
    ['NOERROR'],
    'the allowed client recurses',
  );
  t.same(
    (await ask('127.0.6.53', 'www.example.test')).map((r) => r.rcode),
    ['REFUSED'],
    'another one does not (not even loopback: the list replaced the default)',
  );
  t.equal((await ask('127.0.6.52', 'acl1.node.weft.internal', 20)).length, 20, 'the exempt client is not limited');
  const limited = await ask('127.0.6.54', 'acl1.node.weft.internal', 20);
  t.equal(limited.filter((r) => !r.flag_tc).length, 5, 'another client gets the burst of 5 in full');
});

import t from 'tap';
import dnsPacket, { type Answer } from 'dns-packet';
import { Resolver } from 'node:dns/promises';
import { readdirSync } from 'node:fs';
import { Forwarder, type ForwarderOutput } from './forwarder.js';
import { Responder } from './answer.js';
import { DnsStats } from './stats.js';
import { Zone } from './zone.js';
import { DnsServer } from './server.js';
import { TestUpstream, testSoa } from './upstream.fixture.js';
import { parseUpstream, upstreamsFromResolvConf } from './resolv-conf.js';
import { decode, dig, newStore, query } from '../test/helpers/dns.js';
import { skipUnless } from '../test/helpers/system.js';
import { nsPerCall } from '../test/helpers/cost.js';

// ------------------------------------------------------------ the sans-IO core, with a hand-driven clock

type Out = ForwarderOutput<number>;

function core(opts: { upstreams?: number; maxOutstanding?: number; timeoutMs?: number } = {}) {
  const stats = new DnsStats();
  const ups = Array.from({ length: opts.upstreams ?? 2 }, (_, i) => parseUpstream(`127.0.0.${i + 1}:53`));
  const fwd = new Forwarder<number>(
    { upstreams: ups, maxOutstanding: opts.maxOutstanding, timeoutMs: opts.timeoutMs ?? 1000, random: seq() },
    stats,
  );
  const r = new Responder<number>(new Zone(), stats, fwd);
  /** A client query at `now`; the immediate answer if any. */
  const ask = (now: number, name: string, client = 1, o: { rd?: boolean } = {}) => {
    const msg = query(name, 'A', { id: client, rd: o.rd });
    const out = r.handle(msg, false);
    return out ?? (r.wantsForward ? r.forward(now, false, client) : undefined);
  };
  /** Ids the forwarder said it is done with (the adapter closes their sockets). */
  const done: number[] = [];
  const take = (): Out[] =>
    fwd.outbox.splice(0).filter((o) => {
      if (o.kind !== 'done') return true;
      done.push(o.id);
      return false;
    });
  /** The upstream answers the query it was sent in `send`. */
  const reply = (
    now: number,
    send: Out,
    answers: Answer[],
    o: { rcode?: number; authorities?: Answer[]; tc?: boolean } = {},
  ) => {
    if (send.kind !== 'send') throw new Error('not a send');
    const q = dnsPacket.decode(send.bytes);
    const bytes = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_AVAILABLE | (o.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | (o.rcode ?? 0),
      questions: q.questions,
      answers,
      authorities: o.authorities ?? [],
    });
    fwd.response(now, send.upstream, send.tcp, bytes, send.id);
  };
  return { fwd, stats, ask, take, reply, done };
}

function seq(): () => number {
  let i = 0;
  return () => (i++ * 7919) % 65536;
}

const A = (name: string, ttl: number, data = '192.0.2.1'): Answer => ({ type: 'A', name, ttl, data });

t.test('cache: served for the TTL, with the TTL counting down; then asked again', async (t) => {
  const { ask, take, reply, stats } = core();
  t.equal(ask(0, 'a.example'), undefined, 'a miss goes upstream');
  const [send] = take();
  t.match(send, { kind: 'send', upstream: 0, tcp: false });
  reply(10, send, [A('a.example', 10)]);
  const [answer] = take();
  t.match(answer, { kind: 'reply', client: 1 });
  t.equal(decode((answer as { bytes: Buffer }).bytes).answers[0].ttl, 10);

  const hit = decode(ask(4_010, 'A.Example'));
  t.equal(hit.answers[0].ttl, 6, 'the TTL counts down');
  t.equal(hit.questions[0].name, 'A.Example', "the client's case in the question");
  t.equal(stats.cacheHits, 1);
  t.equal(take().length, 0, 'no upstream query for a hit');
  t.equal(ask(10_010, 'a.example'), undefined, 'expired: asked again');
  t.equal(take().length, 1);
});

t.test('negative answers are cached for the SOA minimum (RFC 2308), not without an SOA', async (t) => {
  const { ask, take, reply } = core();
  ask(0, 'nx.example');
  reply(0, take()[0], [], { rcode: 3, authorities: [testSoa('example', 300, 30)] });
  t.equal(decode((take()[0] as { bytes: Buffer }).bytes).rcode, 'NXDOMAIN');
  t.equal(decode(ask(29_000, 'nx.example')).rcode, 'NXDOMAIN', 'still cached before the minimum');
  t.equal(ask(30_001, 'nx.example'), undefined, 'gone after it');
  take();
  ask(0, 'nosoa.example');
  reply(0, take()[0], [], { rcode: 3 });
  take();
  t.equal(ask(1, 'nosoa.example'), undefined, 'no SOA: not cached');
});

t.test('timeout: the next upstream; all timed out: SERVFAIL; the failing one is avoided afterwards', async (t) => {
  const { fwd, ask, take, reply, stats } = core({ timeoutMs: 1000 });
  ask(0, 'slow.example');
  const [first] = take();
  t.match(first, { upstream: 0 });
  t.equal(fwd.nextDeadline(), 1000);
  fwd.tick(999);
  t.equal(take().length, 0);
  fwd.tick(1000);
  const [second] = take();
  t.match(second, { kind: 'send', upstream: 1 }, 'failover to the second upstream');
  fwd.tick(2000);
  const [fail] = take();
  t.match(fail, { kind: 'reply', rcode: 2 }, 'both timed out: SERVFAIL');
  t.equal(decode((fail as { bytes: Buffer }).bytes).rcode, 'SERVFAIL');
  t.same([...stats.upstreamFailures.values()], [1, 1]);

  ask(2_000, 'next.example');
  const [n] = take();
  t.match(n, { upstream: 0 }, 'equal failures: configured order');
  reply(2_000, n, [], { rcode: 2 });
  const [retry] = take();
  t.match(retry, { kind: 'send', upstream: 1 }, 'SERVFAIL from upstream 0: try upstream 1');
  reply(2_000, retry, [A('next.example', 60)]);
  t.match(take(), [{ kind: 'reply', rcode: 0 }]);
  ask(2_100, 'third.example');
  t.match(take(), [{ kind: 'send', upstream: 1 }], 'upstream 0 has more recent failures now');
  t.ok(fwd.failureScores(2_100)[0] > fwd.failureScores(2_100)[1]);
  t.ok(fwd.failureScores(2_100 + 600_000)[0] < 0.01, 'failures decay');
});

t.test('concurrency limit, coalescing, RD=0, unmatched responses, TC -> TCP', async (t) => {
  const { fwd, ask, take, reply, stats } = core({ maxOutstanding: 2 });
  ask(0, 'a.example', 1);
  ask(0, 'a.example', 2);
  const [sendA] = take();
  t.ok(sendA && take().length === 0, 'two clients, one upstream query');
  ask(0, 'b.example', 3);
  const [sendB] = take();
  const full = decode(ask(0, 'c.example', 4));
  t.equal(full.rcode, 'SERVFAIL', 'past the limit: SERVFAIL at once');
  t.equal(stats.overloaded, 1);
  t.equal(fwd.outstanding, 2);

  const norec = decode(ask(0, 'd.example', 5, { rd: false }));
  t.equal(norec.rcode, 'REFUSED', 'RD=0 and not cached: REFUSED (no recursion asked for)');

  fwd.response(0, 0, false, Buffer.from('garbage!garbage!'), (sendA as { id: number }).id);
  fwd.response(0, 1, false, query('a.example', 'A'), (sendA as { id: number }).id);
  t.same(
    stats.upstreamSpoofs,
    { source: 0, id: 0, question: 0, case: 0, not_response: 2 },
    'garbage and non-responses are dropped',
  );

  reply(0, sendA, [A('a.example', 60)]);
  reply(0, sendB, [A('b.example', 60)]);
  t.same(
    take().map((o) => (o.kind === 'reply' ? o.client : -1)),
    [1, 2, 3],
    'both waiting clients of a, then b',
  );
  ask(0, 'big.example', 6);
  const [big] = take();
  reply(0, big, [], { tc: true });
  const [viaTcp] = take();
  t.match(viaTcp, { kind: 'send', tcp: true, upstream: 0 }, 'TC from upstream: ask it again over TCP');
  reply(0, viaTcp, [A('big.example', 60)]);
  t.match(take(), [{ kind: 'reply', client: 6, rcode: 0 }]);
});

t.test('spoofing: a reply counts only with the id, the question and the 0x20 case as sent', async (t) => {
  const { ask, take, reply, stats, fwd, done } = core();
  ask(0, 'Spoof-Target.Example', 1);
  const [send] = take() as Extract<Out, { kind: 'send' }>[];
  const sent = dnsPacket.decode(send.bytes);
  const name = sent.questions![0].name;
  t.equal(name.toLowerCase(), 'spoof-target.example', 'the name goes up lowercased, then 0x20-cased');
  t.not(name, name.toLowerCase(), 'some letters are upper case');
  const forged = (o: { id?: number; name?: string; type?: 'A' | 'AAAA' }) =>
    dnsPacket.encode({
      type: 'response',
      id: o.id ?? send.id,
      flags: dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: o.type ?? 'A', name: o.name ?? name }],
      answers: [A(o.name ?? name, 300, '6.6.6.6')],
    });
  fwd.response(0, 0, false, forged({ id: send.id ^ 1 }), send.id);
  fwd.response(0, 0, false, forged({ name: name.toLowerCase() }), send.id);
  fwd.response(0, 0, false, forged({ name: name.toUpperCase() }), send.id);
  fwd.response(0, 0, false, forged({ name: 'other.example' }), send.id);
  fwd.response(0, 0, false, forged({ type: 'AAAA' }), send.id);
  fwd.response(0, 1, false, forged({}), send.id);
  t.same(
    stats.upstreamSpoofs,
    { source: 0, id: 2, question: 2, case: 2, not_response: 0 },
    'each forgery dropped, by reason (the last: an upstream not asked)',
  );
  t.same(take(), [], 'nothing reached the client');
  t.same(done, [], 'the query still waits for its real answer');
  reply(0, send, [A(name, 60, '192.0.2.9')]);
  const [answer] = take();
  const d = decode((answer as { bytes: Buffer }).bytes);
  t.same(
    d.answers.map((a) => a.data),
    ['192.0.2.9'],
    'the real answer is taken',
  );
  t.equal(d.questions[0].name, 'Spoof-Target.Example', 'the client sees its own case');
  t.same(done, [send.id], 'then the query is done (its socket closes)');
});

t.test('query ids and 0x20 bits come from node:crypto by default: no two queries alike', async (t) => {
  const stats = new DnsStats();
  const fwd = new Forwarder<number>({ upstreams: [parseUpstream('127.0.0.1:53')] }, stats);
  const r = new Responder<number>(new Zone(), stats, fwd);
  const ids = new Set<number>();
  const names = new Set<string>();
  for (let i = 0; i < 200; i++) {
    r.handle(query('abcdefghijklmnop.example', 'A', { id: i }), false);
    r.forward(0, false, i);
    const [send] = fwd.outbox.splice(0) as Extract<Out, { kind: 'send' }>[];
    ids.add(send.id);
    names.add(dnsPacket.decode(send.bytes).questions![0].name);
    fwd.response(
      0,
      0,
      false,
      dnsPacket.encode({
        type: 'response',
        id: send.id,
        flags: 0x8002,
        questions: dnsPacket.decode(send.bytes).questions,
      }),
      send.id,
    );
    fwd.outbox.length = 0;
  }
  t.ok(ids.size > 190, `ids spread (${ids.size} distinct of 200)`);
  t.ok(names.size > 190, `0x20 patterns spread (${names.size} distinct of 200)`);
});

t.test('resolv.conf: nameservers without our own address', async (t) => {
  const text =
    '# comment\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nsearch x\nnameserver bogus\n';
  t.same(
    upstreamsFromResolvConf(text, [{ addr: '127.0.0.1', port: 53 }]).map((u) => u.label),
    ['10.0.0.2:53', '[fe80::1]:53'],
  );
  t.same(
    upstreamsFromResolvConf(text, [{ addr: '127.0.0.1', port: 8600 }]).map((u) => u.label),
    ['127.0.0.1:53', '10.0.0.2:53', '[fe80::1]:53'],
    'another port is not us',
  );
  t.same(
    upstreamsFromResolvConf(text, [{ addr: '0.0.0.0', port: 53 }], ['10.0.0.2']).map((u) => u.label),
    ['[fe80::1]:53'],
    'a wildcard on 53 is every local address',
  );
  t.same(parseUpstream('[::1]:5353'), { host: '::1', port: 5353, label: '[::1]:5353' });
  t.same(parseUpstream('10.0.0.1:5353'), { host: '10.0.0.1', port: 5353, label: '10.0.0.1:5353' });
  t.throws(() => parseUpstream('10.0.0.1:0'), /bad port/);
});

// ------------------------------------------------------------ over real sockets, against tiny upstreams on 127.0.6.x

async function upstreams(t: { teardown(fn: () => unknown): void }) {
  const one = await TestUpstream.start('127.0.6.1', (q) => ({ answers: [A(q.name, 60, '192.0.2.1')] }));
  const two = await TestUpstream.start('127.0.6.2', (q) => ({ answers: [A(q.name, 60, '192.0.2.2')] }));
  t.teardown(() => Promise.all([one.close(), two.close()]));
  return { one, two };
}

t.test('forwarding through the server: answers, cache, failover, SERVFAIL, TCP upstream', async (t) => {
  const { one, two } = await upstreams(t);
  const dns = await DnsServer.start({
    source: newStore(),
    listen: [{ addr: '127.0.6.10', port: 0 }],
    upstreams: [one.label, two.label],
    upstreamTimeoutMs: 300,
  });
  t.teardown(() => dns.stop());
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([`127.0.6.10:${dns.addresses[0].port}`]);

  t.same(await r.resolve4('www.example.test'), ['192.0.2.1']);
  t.same(await r.resolve4('www.example.test'), ['192.0.2.1']);
  t.equal(one.asked.length, 1, 'the second was a cache hit');

  one.handler = () => 'drop';
  t.same(await r.resolve4('other.example.test'), ['192.0.2.2'], 'the first is silent: the second answers');
  two.handler = () => 'drop';
  await t.rejects(r.resolve4('nobody.example.test'), { code: 'ESERVFAIL' }, 'both silent: SERVFAIL');

  two.handler = (q) => ({
    truncateUdp: true,
    answers: Array.from({ length: 80 }, (_, i) => A(q.name, 60, `198.51.100.${i + 1}`)),
  });
  const many = await r.resolve4('many.example.test');
  t.equal(many.length, 80, 'a truncated upstream answer is fetched again over TCP and relayed whole');
  t.ok(two.asked.some((a) => a.tcp && a.name.toLowerCase() === 'many.example.test'));

  const metrics = await dns.registry.metrics();
  t.match(metrics, /weft_dns_cache_hits_total \d+/);
  t.match(metrics, new RegExp(`weft_dns_upstream_failures_total\\{upstream="${one.label}"\\} [1-9]`));
});

t.test(
  'each upstream query leaves from a fresh port; a burst of one name is one query; sockets are bounded and closed',
  async (t) => {
    const ports: number[] = [];
    const up = await TestUpstream.start('127.0.6.40', (q) =>
      q.name.toLowerCase().startsWith('silent') ? 'drop' : { answers: [A(q.name, 0, '192.0.2.1')] },
    );
    up.onQuery = (_, port) => ports.push(port);
    t.teardown(() => up.close());
    const dns = await DnsServer.start({
      source: newStore(),
      listen: [{ addr: '127.0.6.41', port: 0 }],
      upstreams: [up.label],
      maxOutstanding: 8,
      upstreamTimeoutMs: 300,
    });
    t.teardown(() => dns.stop());
    const r = new Resolver({ timeout: 3000, tries: 1 });
    r.setServers([`127.0.6.41:${dns.addresses[0].port}`]);
    for (let i = 0; i < 20; i++) await r.resolve4(`p${i}.example.test`);
    t.equal(new Set(ports).size, 20, `20 queries, 20 source ports (${ports.slice(0, 5).join(', ')}, ...)`);

    up.asked.length = 0;
    await Promise.all(Array.from({ length: 50 }, () => r.resolve4('burst.example.test')));
    t.equal(up.asked.length, 1, '50 clients asking one name at once: one upstream query');

    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    // The client waits long enough that only a server that never answers looks like a timeout,
    // even with the event loop slowed by other test files (3 s was once not enough in CI).
    const patient = new Resolver({ timeout: 10_000, tries: 1 });
    patient.setServers(r.getServers());
    const silent = Array.from({ length: 40 }, (_, i) =>
      patient.resolve4(`silent${i}.example.test`).catch((e: { code: string }) => e.code),
    );
    await new Promise((res) => setTimeout(res, 100));
    const during = fds() - before;
    t.ok(
      during <= 8 + 2,
      `40 questions to a silent upstream hold at most maxOutstanding sockets (${during} more descriptors)`,
    );
    t.same(
      new Set(await Promise.all(silent)),
      new Set(['ESERVFAIL']),
      'past the limit SERVFAIL at once, the rest on timeout',
    );
    await new Promise((res) => setTimeout(res, 100));
    t.ok(fds() - before <= 1, `all closed after the timeouts (${fds() - before})`);
  },
);

t.test(
  'dig +norec outside the zone: from the cache, else REFUSED',
  { skip: skipUnless({ commands: ['dig'] }) },
  async (t) => {
    const { one, two } = await upstreams(t);
    const dns = await DnsServer.start({
      source: newStore(),
      listen: [{ addr: '127.0.6.11', port: 0 }],
      upstreams: [one.label, two.label],
    });
    t.teardown(() => dns.stop());
    const port = dns.addresses[0].port;
    t.equal((await dig('127.0.6.11', port, ['cold.example.test', '+norec'])).status, 'REFUSED');
    t.equal(one.asked.length, 0, 'nothing went upstream');
    const warm = await dig('127.0.6.11', port, ['cold.example.test']);
    t.equal(warm.status, 'NOERROR');
    t.ok(warm.flags.includes('ra'), 'recursion available');
    t.notOk(warm.flags.includes('aa'), 'not authoritative outside the zone');
    const cached = await dig('127.0.6.11', port, ['cold.example.test', '+norec']);
    t.same(
      cached.answer.map((r) => r[4]),
      ['192.0.2.1'],
      'now from the cache',
    );
  },
);

t.test('forward: false refuses names outside the zone; no upstreams at all is a warning, not a failure', async (t) => {
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, warn: (_: object, m: string) => void warnings.push(m), error() {} };
  const dns = await DnsServer.start({
    source: newStore(),
    listen: [{ addr: '127.0.6.12', port: 0 }],
    resolvConf: '/nonexistent/resolv.conf',
    log,
  });
  t.teardown(() => dns.stop());
  t.match(warnings, [/no upstream resolvers/]);
  t.equal(dns.forwarder, undefined);
});

t.test(
  'upstream health changes are logged once each: down after failures in a row, up at its next answer',
  async (t) => {
    const up = await TestUpstream.start('127.0.6.50', (q) => ({ answers: [A(q.name, 0, '192.0.2.9')] }));
    t.teardown(() => up.close());
    const lines: { level: string; msg: string }[] = [];
    const at = (level: string) => (_: object, msg: string) => void lines.push({ level, msg });
    const log = { debug() {}, info: at('info'), warn: at('warn'), error: at('error') };
    const dns = await DnsServer.start({
      source: newStore(),
      listen: [{ addr: '127.0.6.51', port: 0 }],
      upstreams: [up.label],
      upstreamTimeoutMs: 200,
      log,
    });
    t.teardown(() => dns.stop());
    const r = new Resolver({ timeout: 5000, tries: 1 });
    r.setServers([`127.0.6.51:${dns.addresses[0].port}`]);
    const health = () => lines.filter((l) => l.msg.startsWith('DNS upstream'));

    t.same(await r.resolve4('a.example.test'), ['192.0.2.9']);
    up.handler = () => 'drop';
    for (let i = 0; i < 4; i++) await t.rejects(r.resolve4(`dead${i}.example.test`), { code: 'ESERVFAIL' });
    t.match(
      health(),
      [
        {
          level: 'warn',
          msg: new RegExp(`^DNS upstream ${up.label} is down \\(no answer within 200 ms, 2 times in a row\\)`),
        },
      ],
      'one warning for four failures',
    );
    up.handler = (q) => ({ answers: [A(q.name, 0, '192.0.2.9')] });
    for (let i = 0; i < 3; i++) t.same(await r.resolve4(`back${i}.example.test`), ['192.0.2.9']);
    t.match(
      health(),
      [{ level: 'warn' }, { level: 'info', msg: `DNS upstream ${up.label} answers again` }],
      'and one line when it is back',
    );
    t.equal(health().length, 2);
  },
);

t.test(
  'the next deadline after each query costs the same with 15,000 answered within the timeout as with 10',
  async (t) => {
    // The server asks for it after each query and answer. Answered queries stayed at the
    // front of the deadline list until the timer's tick, and were walked every time: at
    // 10k forwarded qps and the 1.5 s timeout, 15,000 of them per query.
    const c = core({ timeoutMs: 1_500 });
    let n = 0;
    const forward = (count: number) => {
      for (let i = 0; i < count; i++, n++) {
        c.ask(0, `q${n}.example.com`);
        const [send] = c.take();
        c.reply(0, send, [A(`q${n}.example.com`, 0)]);
        c.take();
      }
    };
    forward(10);
    t.equal(c.fwd.nextDeadline(), undefined, 'all answered: nothing to wait for');
    const few = nsPerCall(100_000, () => c.fwd.nextDeadline());
    forward(15_000);
    const many = nsPerCall(100_000, () => c.fwd.nextDeadline());
    t.ok(many < 1_000, `ns per deadline: ${few.toFixed(0)} with 10 answered, ${many.toFixed(0)} with 15,000`);
    c.ask(0, 'slow.example.com');
    t.equal(c.fwd.nextDeadline(), 1_500, 'one waiting, behind 15,010 answered');
    c.take();
    c.fwd.tick(1_499);
    t.equal(c.take().length, 0, 'not due yet');
    c.fwd.tick(1_500);
    t.match(c.take(), [{ kind: 'send', upstream: 1 }], 'then asked of the next upstream');
    t.equal(c.fwd.nextDeadline(), 1_500 + 1_500, 'due a timeout later');
  },
);

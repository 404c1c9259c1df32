import t from 'tap';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { GossipBindError, SourceRate, Transport, type Peer, type TransportOptions } from './transport.js';
import { frame, FrameReader } from './framing.js';
import { decodePacket, decodeStream, encodePacket, encodeStream, codecEnvelope } from './codec.js';
import { PLAIN_HELLO, sealedHello } from './stream-hello.js';
import { Keyring, generateKey } from './keyring.js';
import { costGrowth } from '../test/helpers/cost.js';

/** What the helpers need of a tap test: somewhere to register cleanup. */
type Test = { teardown(fn: () => unknown): void };

/** A transport on an ephemeral loopback port, closed when the test ends. */
async function bound(t: Test, opts: TransportOptions = {}, addr = '127.0.0.1'): Promise<{ tr: Transport; at: Peer }> {
  const tr = new Transport(opts);
  t.teardown(() => tr.close());
  const at = await tr.bind(addr, 0);
  return { tr, at };
}

function nextPacket(tr: Transport, ms = 2000): Promise<{ from: Peer; buf: Buffer }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no packet')), ms);
    tr.onPacket((from, buf) => {
      clearTimeout(timer);
      resolve({ from, buf });
    });
  });
}

/** A raw TCP client, for speaking to the listener the way a broken or hostile peer would. */
function rawClient(t: Test, at: Peer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: at.addr, port: at.port }, () => resolve(s));
    s.on('error', reject);
    t.teardown(() => s.destroy());
  });
}

const closed = (s: Socket) =>
  new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

t.test('a packet goes from one transport to another, with the sender address and counters', async (t) => {
  const a = await bound(t);
  const b = await bound(t);
  const got = nextPacket(b.tr);
  a.tr.sendPacket(b.at, Buffer.from('hello'));
  const { from, buf } = await got;
  t.equal(buf.toString(), 'hello');
  t.same(from, a.at, 'from is the sender gossip address');
  t.match(a.tr.stats(), { packetsOut: 1, packetBytesOut: 5, sendErrors: 0 });
  t.match(b.tr.stats(), { packetsIn: 1, packetBytesIn: 5 });
});

t.test('an encrypted compound crosses real sockets and decodes', async (t) => {
  const opts = { label: 'prod', keyring: new Keyring([generateKey()]) };
  const a = await bound(t);
  const b = await bound(t);
  const got = nextPacket(b.tr);
  a.tr.sendPacket(b.at, encodePacket([{ t: 'ping', seq: 9, target: 'b', source: { name: 'a', ...a.at } }], opts));
  const r = decodePacket((await got).buf, opts);
  t.same(r.ok && r.msgs.map((m) => m.t), ['ping']);
});

t.test('IPv6 loopback works too', async (t) => {
  const a = await bound(t, {}, '::1');
  const b = await bound(t, {}, '::1');
  const got = nextPacket(b.tr);
  a.tr.sendPacket(b.at, Buffer.from('v6'));
  t.same((await got).from, { addr: '::1', port: a.at.port });
  b.tr.onRequest(async (_from, body) => body);
  t.equal((await a.tr.request(b.at, Buffer.from('echo'), 2000)).toString(), 'echo');
});

t.test('request sends one frame and returns the reply frame', async (t) => {
  const opts = { label: 'prod' };
  const a = await bound(t);
  const b = await bound(t);
  let seenFrom: Peer | undefined;
  b.tr.onRequest(async (from, body) => {
    seenFrom = from;
    const r = decodeStream(body, opts);
    if (!r.ok || r.msgs[0]!.t !== 'push-pull') throw new Error('bad request');
    return encodeStream([{ t: 'push-pull', join: false, states: [] }], opts);
  });
  const reply = await a.tr.request(b.at, encodeStream([{ t: 'push-pull', join: true, states: [] }], opts), 2000);
  const r = decodeStream(reply, opts);
  t.same(r.ok && r.msgs, [{ t: 'push-pull', join: false, states: [] }]);
  t.equal(seenFrom?.addr, '127.0.0.1');
  t.match(a.tr.stats(), { streamsOut: 1 });
  t.match(b.tr.stats(), { streamsIn: 1, streamErrors: 0, handlerErrors: 0 });
  t.ok(
    a.tr.stats().streamBytesOut > 0 && b.tr.stats().streamBytesIn === a.tr.stats().streamBytesOut,
    'bytes counted on both sides',
  );
});

t.test('a request whose handler has nothing to say gets an empty reply', async (t) => {
  const a = await bound(t);
  const b = await bound(t);
  b.tr.onRequest(async () => undefined);
  const reply = await a.tr.request(b.at, Buffer.from('fire and confirm'), 2000);
  t.equal(reply.length, 0);
});

t.test('a large frame (3 MiB) goes through', async (t) => {
  const a = await bound(t);
  const b = await bound(t);
  b.tr.onRequest(async (_from, body) => Buffer.from(String(body.length)));
  t.equal((await a.tr.request(b.at, Buffer.alloc(3 * 1024 * 1024, 1), 10_000)).toString(), String(3 * 1024 * 1024));
});

t.test('a failing handler closes the stream, is counted, and the transport keeps serving', async (t) => {
  const errors: string[] = [];
  const a = await bound(t);
  const b = await bound(t, { onError: (_e, context) => errors.push(context) });
  let calls = 0;
  b.tr.onRequest(async () => {
    if (++calls === 1) throw new Error('handler bug');
    return Buffer.from('fine');
  });
  await t.rejects(a.tr.request(b.at, Buffer.from('x'), 2000), {
    message: `gossip request to 127.0.0.1:${b.at.port} failed: closed without a reply`,
  });
  t.equal((await a.tr.request(b.at, Buffer.from('x'), 2000)).toString(), 'fine');
  t.match(b.tr.stats(), { handlerErrors: 1 });
  t.same(errors, ['request handler']);
});

t.test('a packet handler that throws is counted, not fatal', async (t) => {
  const a = await bound(t);
  const b = await bound(t);
  let delivered = 0;
  b.tr.onPacket(() => {
    delivered++;
    throw new Error('core bug');
  });
  a.tr.sendPacket(b.at, Buffer.from('1'));
  a.tr.sendPacket(b.at, Buffer.from('2'));
  for (let i = 0; i < 100 && delivered < 2; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(delivered, 2);
  t.equal(b.tr.stats().handlerErrors, 2);
});

t.test('binding a port in use fails with the message a user needs', async (t) => {
  const a = await bound(t);
  const b = new Transport();
  t.teardown(() => b.close());
  await t.rejects(b.bind('127.0.0.1', a.at.port), {
    name: 'GossipBindError',
    code: 'EADDRINUSE',
    message: `gossip port 127.0.0.1:${a.at.port} is in use: choose another with --bind-port`,
  });
});

t.test('binding a port whose TCP side is taken also fails clearly, and frees the UDP side', async (t) => {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const tr = new Transport();
  t.teardown(() => tr.close());
  await t.rejects(tr.bind('127.0.0.1', port), {
    message: `gossip port 127.0.0.1:${port} is in use: choose another with --bind-port`,
  });
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  const again = new Transport();
  t.teardown(() => again.close());
  t.same(await again.bind('127.0.0.1', port), { addr: '127.0.0.1', port }, 'UDP port was released');
});

t.test('bind arguments are checked', async (t) => {
  await t.rejects(new Transport().bind('localhost', 7946), GossipBindError);
  await t.rejects(new Transport().bind('127.0.0.1', 70000), /not a port number/);
  await t.rejects(new Transport().bind('192.0.2.1', 0), {
    code: 'EADDRNOTAVAIL',
    message: /192\.0\.2\.1 is not an address of this machine/,
  });
});

t.test('request failures reject with short messages', async (t) => {
  const a = await bound(t);
  // A listener that accepts and never answers.
  const silent = createServer(() => {});
  const sockets = new Set<Socket>();
  silent.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const silentPort = (silent.address() as { port: number }).port;
  await t.rejects(a.tr.request({ addr: '127.0.0.1', port: silentPort }, Buffer.from('x'), 150), {
    message: `gossip request to 127.0.0.1:${silentPort} timed out after 150 ms`,
  });

  const gone = await bound(t);
  await gone.tr.close();
  await t.rejects(a.tr.request(gone.at, Buffer.from('x'), 2000), {
    message: `gossip request to 127.0.0.1:${gone.at.port} failed: connection refused`,
  });
});

t.test('a hostile stream announcing a huge frame is cut off before it is buffered', async (t) => {
  const errors: string[] = [];
  const b = await bound(t, { onError: (e) => errors.push(e.message) });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const s = await rawClient(t, b.at);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(0xfffffff0);
  s.write(prefix);
  await closed(s);
  t.equal(b.tr.stats().streamsUnauthenticated, 1);
  t.match(errors[0], /announced a first frame over 4096 bytes before authenticating/);
  const a = await bound(t, {}, '127.0.0.2'); // 127.0.0.1 now waits a second for its next stream
  t.equal((await a.tr.request(b.at, Buffer.from('x'), 2000)).toString(), 'ok', 'still serving');
});

t.test('a stream that sends more than one request is closed', async (t) => {
  const b = await bound(t);
  b.tr.onRequest(async () => Buffer.from('ok'));
  const s = await rawClient(t, b.at);
  s.on('data', () => {});
  s.write(Buffer.concat([frame(Buffer.from('one')), frame(Buffer.from('two'))]));
  await closed(s);
  t.equal(b.tr.stats().streamErrors, 1);
});

t.test('an idle inbound stream is dropped after the inbound timeout', async (t) => {
  const b = await bound(t, { inboundTimeoutMs: 100 });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const s = await rawClient(t, b.at);
  s.write(Buffer.from([0, 0])); // half a length prefix, then nothing
  const started = Date.now();
  await closed(s);
  t.ok(Date.now() - started < 2000, 'closed by the server');
  t.equal(b.tr.stats().streamErrors, 1);
});

/** A raw client that sends a valid (unauthenticated, PLAIN_HELLO) hello and then `rest`. */
async function helloClient(t: Test, at: Peer, rest: Buffer = Buffer.alloc(0)): Promise<Socket> {
  const s = await rawClient(t, at);
  s.on('data', () => {});
  s.write(Buffer.concat([frame(PLAIN_HELLO.make()), rest]));
  return s;
}

t.test('authenticated streams beyond the limit are refused', async (t) => {
  const b = await bound(t, { maxInboundStreams: 2 });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const held = [await helloClient(t, b.at), await helloClient(t, b.at)];
  await new Promise((r) => setTimeout(r, 50)); // let the server accept both
  const third = await helloClient(t, b.at);
  await closed(third);
  t.equal(b.tr.stats().streamsRefused, 1);
  t.equal(b.tr.stats().streamsIn, 3);
  for (const s of held) s.destroy();
});

t.test(
  'streams without a hello share a small pool; a newcomer evicts the oldest, so a live peer still gets through',
  async (t) => {
    const b = await bound(t, { maxPendingStreams: 3, maxStreamsPerSource: 100 });
    b.tr.onRequest(async () => Buffer.from('ok'));
    const silent: Socket[] = [];
    for (let i = 0; i < 6; i++) silent.push(await rawClient(t, b.at));
    await Promise.all(silent.slice(0, 3).map(closed));
    t.equal(b.tr.stats().streamsUnauthenticated, 3, 'the three oldest were dropped');
    const a = await bound(t);
    t.equal((await a.tr.request(b.at, Buffer.from('x'), 2000)).toString(), 'ok', 'a request still goes through');
    for (const s of silent) s.destroy();
  },
);

t.test('a stream that sends no hello in time is dropped', async (t) => {
  const b = await bound(t, { helloTimeoutMs: 100 });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const s = await rawClient(t, b.at);
  s.write(Buffer.from([0, 0, 0, 10, 1])); // a frame begun, never finished
  await closed(s);
  t.equal(b.tr.stats().streamsUnauthenticated, 1);
});

t.test('a source whose stream failed to authenticate waits before its next one; others do not', async (t) => {
  const b = await bound(t);
  b.tr.onRequest(async () => Buffer.from('ok'));
  const s = await rawClient(t, b.at);
  s.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  await closed(s);
  const again = await rawClient(t, b.at);
  await closed(again);
  t.equal(b.tr.stats().streamsRefused, 1, 'the next stream from 127.0.0.1 is refused at once');
  const other = await bound(t, {}, '127.0.0.3');
  t.equal((await other.tr.request(b.at, Buffer.from('x'), 2000)).toString(), 'ok', 'another source is served');
});

t.test('one source address opens at most streamsPerSourcePerSecond streams (bursts of twice that)', async (t) => {
  const b = await bound(t, { streamsPerSourcePerSecond: 2, maxStreamsPerSource: 100 });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const a = await bound(t);
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => a.tr.request(b.at, Buffer.from('x'), 2000)));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 4, 'the burst of 4 is served');
  t.equal(b.tr.stats().streamsRefused, 2, 'the rest refused');
});

t.test('one source address holds at most maxStreamsPerSource streams', async (t) => {
  const b = await bound(t, { maxStreamsPerSource: 2 });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const held = [await rawClient(t, b.at), await rawClient(t, b.at)];
  await new Promise((r) => setTimeout(r, 50));
  const third = await rawClient(t, b.at);
  await closed(third);
  t.equal(b.tr.stats().streamsRefused, 1);
  for (const s of held) s.destroy();
  await Promise.all(held.map(closed));
  await new Promise((r) => setTimeout(r, 50));
  const a = await bound(t);
  t.equal((await a.tr.request(b.at, Buffer.from('x'), 2000)).toString(), 'ok', 'slots come back when streams close');
});

t.test('the bytes all streams hold together are capped: the stream that goes over is closed', async (t) => {
  const b = await bound(t, { maxBufferedBytes: 100_000, maxStreamsPerSource: 100 });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(80_000);
  const first = await helloClient(t, b.at, Buffer.concat([prefix, Buffer.alloc(60_000)]));
  await new Promise((r) => setTimeout(r, 100));
  const second = await helloClient(t, b.at, Buffer.concat([prefix, Buffer.alloc(60_000)]));
  await closed(second);
  t.equal(b.tr.stats().streamsOverBudget, 1);
  t.notOk(first.destroyed, 'the stream within the budget stays');
  first.write(Buffer.alloc(20_000));
  await closed(first);
  t.equal(
    b.tr.stats().handlerErrors + b.tr.stats().streamErrors + b.tr.stats().streamsOverBudget,
    1,
    'and is answered',
  );
});

t.test('with a keyring, a peer without the key cannot announce more than a hello', async (t) => {
  const opts = { label: '', keyring: new Keyring([generateKey()]) };
  const hello = sealedHello(codecEnvelope(opts));
  const b = await bound(t, { hello });
  b.tr.onRequest(async () => Buffer.from('ok'));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(4 * 1024 * 1024);
  const s = await helloClient(t, b.at, prefix); // a hello sealed with no key, then a 4 MiB frame
  await closed(s);
  t.equal(b.tr.stats().streamsIn, 1);
  t.equal(b.tr.stats().streamsUnauthenticated, 1, 'cut off at its hello');
  const a = await bound(t, { hello }, '127.0.0.2');
  t.equal(
    (await a.tr.request(b.at, Buffer.alloc(1_000_000), 2000)).toString(),
    'ok',
    'a key holder sends a large frame',
  );
});

t.test('unsendable packets are counted, never thrown', async (t) => {
  const a = await bound(t);
  t.doesNotThrow(() => a.tr.sendPacket({ addr: '::1', port: 7946 }, Buffer.from('x')), 'IPv6 peer from an IPv4 socket');
  t.doesNotThrow(() => a.tr.sendPacket({ addr: 'not-an-ip', port: 7946 }, Buffer.from('x')));
  t.doesNotThrow(() => a.tr.sendPacket({ addr: '127.0.0.1', port: 0 }, Buffer.from('x')), 'port 0');
  await new Promise((r) => setTimeout(r, 20));
  t.equal(a.tr.stats().sendErrors, 3);
  t.equal(a.tr.stats().packetsOut, 0);
});

t.test('close rejects pending requests, releases the port and can be called twice', async (t) => {
  const a = await bound(t);
  const b = await bound(t);
  b.tr.onRequest(() => new Promise(() => {})); // never answers
  const pending = a.tr.request(b.at, Buffer.from('x'), 5000);
  await new Promise((r) => setTimeout(r, 50));
  await a.tr.close();
  await t.rejects(pending, /closed without a reply/);
  await a.tr.close();
  await t.rejects(a.tr.request(b.at, Buffer.from('x'), 100), /transport closed/);
  await b.tr.close();
  const again = new Transport();
  t.teardown(() => again.close());
  t.same(await again.bind('127.0.0.1', b.at.port), b.at, 'port free again');
});

t.test('a reply over the frame limit rejects the request', async (t) => {
  const a = await bound(t, { maxFrameBytes: 1000 });
  const b = await bound(t);
  b.tr.onRequest(async () => Buffer.alloc(5000));
  await t.rejects(a.tr.request(b.at, Buffer.from('x'), 2000), /over the 1000-byte frame limit/);
  await t.rejects(a.tr.request(b.at, Buffer.alloc(1001), 2000), /over the 1000-byte frame limit/);
  // The reader in framing.ts is what enforces it; make sure a legit frame of the limit passes.
  const r = new FrameReader(1000).push(frame(Buffer.alloc(1000)));
  t.equal(r.ok && r.frames.length, 1);
});

t.test(
  'stream opens from ever new sources cost the same per open with 4,096 sources remembered as with 64',
  async (t) => {
    const g = costGrowth(
      { small: 64, large: 4096 },
      (n) => new SourceRate(10, n),
      (r, i) => r.take(`10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, 0),
    );
    t.ok(
      g.ratio < 4,
      `ns per open: ${g.small.toFixed(0)} with 64, ${g.large.toFixed(0)} with 4,096 (x${g.ratio.toFixed(1)})`,
    );
  },
);

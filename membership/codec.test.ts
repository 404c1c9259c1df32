import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { crc32 } from 'node:zlib';
import { DEFAULTS } from './defaults.js';
import {
  decodePacket,
  decodeStream,
  encodePacket,
  encodeStream,
  encodedSize,
  packetOverhead,
  splitIntoPackets,
  type WireOptions,
} from './codec.js';
import { Keyring, generateKey } from './keyring.js';
import { MAX_INCARNATION, type Message, type PacketMessage } from './messages.js';
import { arbMessage, arbPacketMessage, typicalCompound } from './wire-arbitraries.js';

const addr = (name: string, a = '10.0.0.1', port = 7946) => ({ name, addr: a, port });

const oneOfEach: PacketMessage[] = [
  { t: 'ping', seq: 1, target: 'b', source: addr('a') },
  { t: 'ping-req', seq: 2, target: addr('c', 'fd00::3'), nack: true, source: addr('a') },
  { t: 'ack', seq: 3 },
  { t: 'ack', seq: 4, payload: new Uint8Array([1, 2, 3]) },
  { t: 'nack', seq: 5 },
  { t: 'alive', incarnation: 6, node: addr('d', '192.168.1.4', 1), meta: new Uint8Array(512).fill(7) },
  { t: 'suspect', incarnation: 7, node: 'd', from: 'a' },
  { t: 'dead', incarnation: MAX_INCARNATION, node: 'd', from: 'd' },
  { t: 'user', data: new Uint8Array([0, 255]) },
];

const pushPull: Message = {
  t: 'push-pull',
  join: true,
  states: [
    { node: addr('a'), incarnation: 1, state: 'alive', meta: new Uint8Array(0) },
    { node: addr('b', '::1', 65535), incarnation: 9, state: 'left', meta: new Uint8Array([9]) },
  ],
};

/** Compares messages with binary fields as plain arrays, so Buffer vs Uint8Array does not matter. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: Array.from(v) };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const key1 = generateKey();
const key2 = generateKey();
const modes: [string, () => WireOptions][] = [
  ['plain', () => ({ label: 'prod' })],
  ['encrypted', () => ({ label: 'prod', keyring: new Keyring([key1]) })],
];

for (const [mode, opts] of modes) {
  t.test(`${mode}: every message type round-trips, one per packet and all in one compound`, async (t) => {
    const o = opts();
    for (const m of oneOfEach) {
      const r = decodePacket(encodePacket([m], o), o);
      t.same(r.ok && plain(r.msgs), plain([m]), m.t);
    }
    const r = decodePacket(encodePacket(oneOfEach, o), o);
    t.same(r.ok && plain(r.msgs), plain(oneOfEach), 'compound');
  });

  t.test(`${mode}: push-pull round-trips as a stream body and is refused in a packet`, async (t) => {
    const o = opts();
    const r = decodeStream(encodeStream([pushPull], o), o);
    t.same(r.ok && plain(r.msgs), plain([pushPull]));
    const asPacket = decodePacket(encodeStream([pushPull], o), o);
    t.same(asPacket, { ok: false, reason: 'invalid_message', detail: 'push-pull: stream only' });
  });

  t.test(`${mode}: arbitrary valid messages round-trip`, async (t) => {
    const o = opts();
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 8 }), (msgs) => {
        const r = decodeStream(encodeStream(msgs, o), o);
        if (!r.ok) throw new Error(`rejected: ${r.reason} ${r.detail ?? ''}`);
        if (JSON.stringify(plain(r.msgs)) !== JSON.stringify(plain(msgs))) throw new Error('changed in transit');
      }),
      { numRuns: 300 },
    );
    t.pass('300 generated compounds round-tripped');
  });

  t.test(`${mode}: another cluster's label is rejected as wrong_label`, async (t) => {
    const o = opts();
    const theirs = { ...o, label: 'staging' };
    t.equal(reason(decodePacket(encodePacket(oneOfEach, theirs), o)), 'wrong_label');
    t.equal(
      reason(decodePacket(encodePacket(oneOfEach, { ...o, label: '' }), o)),
      'wrong_label',
      'unlabelled vs labelled',
    );
    t.equal(
      reason(decodePacket(encodePacket(oneOfEach, o), { ...o, label: '' })),
      'wrong_label',
      'labelled vs unlabelled',
    );
    // Labels of the same length differ in their bytes only: a check of the length alone
    // lets "test" into "prod" (test/mutants/codec-label-length.patch).
    for (const same of ['test', 'proe', 'Prod', 'drop']) {
      t.equal(
        reason(decodePacket(encodePacket(oneOfEach, { ...o, label: same }), o)),
        'wrong_label',
        `"${same}" into "prod", a packet`,
      );
      t.equal(
        reason(decodeStream(encodeStream([pushPull], { ...o, label: same }), o)),
        'wrong_label',
        `"${same}" into "prod", a stream`,
      );
    }
  });
}

function reason(r: { ok: boolean; reason?: string }): string {
  return r.ok ? 'ok' : r.reason!;
}

t.test('decoded binary fields are copies, not views into the packet', async (t) => {
  const o = { label: 'x' };
  const buf = encodePacket([{ t: 'alive', incarnation: 1, node: addr('a'), meta: new Uint8Array([5, 5, 5]) }], o);
  const r = decodePacket(buf, o);
  t.ok(r.ok);
  if (!r.ok || r.msgs[0]!.t !== 'alive') return;
  const meta = r.msgs[0].meta;
  buf.fill(0);
  t.same(Array.from(meta), [5, 5, 5]);
});

t.test('a key that is not installed is rejected as decrypt_failed', async (t) => {
  const sender = { label: 'prod', keyring: new Keyring([key1]) };
  const receiver = { label: 'prod', keyring: new Keyring([key2]) };
  t.equal(reason(decodePacket(encodePacket(oneOfEach, sender), receiver)), 'decrypt_failed');
});

t.test('the label is authenticated: rewriting it in an encrypted packet fails decryption', async (t) => {
  const a = { label: 'aaaa', keyring: new Keyring([key1]) };
  const b = { label: 'bbbb', keyring: new Keyring([key1]) };
  const buf = encodePacket(oneOfEach, a);
  buf.write('bbbb', 3, 'utf8');
  t.equal(reason(decodePacket(buf, b)), 'decrypt_failed');
});

t.test('encryption must match on both sides', async (t) => {
  const plainOpts = { label: 'prod' };
  const enc = { label: 'prod', keyring: new Keyring([key1]) };
  t.equal(reason(decodePacket(encodePacket(oneOfEach, plainOpts), enc)), 'encryption_mismatch', 'plain into encrypted');
  t.equal(reason(decodePacket(encodePacket(oneOfEach, enc), plainOpts)), 'encryption_mismatch', 'encrypted into plain');
});

t.test('damage and foreign bytes map to their reasons', async (t) => {
  const o = { label: 'prod' };
  const good = encodePacket(oneOfEach, o);
  t.equal(reason(decodePacket(Buffer.alloc(0), o)), 'too_short');
  t.equal(reason(decodePacket(good.subarray(0, 8), o)), 'too_short', 'cut inside the label and trailer');
  t.equal(reason(decodePacket(Buffer.alloc(70000), o)), 'too_large');
  const v = Buffer.from(good);
  v[0] = 9;
  t.equal(reason(decodePacket(v, o)), 'bad_version');
  const mode = Buffer.from(good);
  mode[1] = 7;
  t.equal(reason(decodePacket(mode, o)), 'bad_version', 'unknown mode');
  const flipped = Buffer.from(good);
  flipped[20]! ^= 0x10;
  t.equal(reason(decodePacket(flipped, o)), 'bad_crc');
  t.equal(reason(decodePacket(good.subarray(0, good.length - 1), o)), 'bad_crc', 'truncated');
});

/** A plain packet around an arbitrary msgpack value, with a correct CRC: what a buggy or hostile peer could send. */
function craft(value: unknown, label = 'prod'): Buffer {
  const body = new Packr({ useRecords: false, useBigIntExtension: true }).pack(value);
  const head = Buffer.concat([Buffer.from([1, 0, Buffer.byteLength(label)]), Buffer.from(label)]);
  const out = Buffer.concat([head, body, Buffer.alloc(4)]);
  out.writeUInt32BE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

t.test(
  'authentic packets with bad contents are malformed or invalid_message, with a detail that names the field',
  async (t) => {
    const o = { label: 'prod' };
    t.equal(reason(decodePacket(craft({ t: 'ping' }), o)), 'malformed', 'body not a list');
    t.equal(reason(decodePacket(craft([]), o)), 'malformed', 'no messages');
    const garbage = craft(0);
    garbage[garbage.length - 5] = 0xc1; // never-used msgpack byte
    garbage.writeUInt32BE(crc32(garbage.subarray(0, garbage.length - 4)), garbage.length - 4);
    t.equal(reason(decodePacket(garbage, o)), 'malformed', 'not msgpack');
    const cases: [unknown, string][] = [
      [[99, 1], 'message: unknown type'],
      [[0, -1, 'b', ['a', '10.0.0.1', 7946]], 'ping.seq: not a non-negative safe integer'],
      [[0, 1.5, 'b', ['a', '10.0.0.1', 7946]], 'ping.seq: not a non-negative safe integer'],
      [[0, 2 ** 53, 'b', ['a', '10.0.0.1', 7946]], 'ping.seq: not a non-negative safe integer'],
      [[0, 1, '', ['a', '10.0.0.1', 7946]], 'ping.target: not a name of 1..255 characters'],
      [[0, 1, 'x'.repeat(256), ['a', '10.0.0.1', 7946]], 'ping.target: not a name of 1..255 characters'],
      [[0, 1, 'b', ['a', '10.0.0.300', 7946]], 'ping.source.addr: not an IP address literal'],
      [[0, 1, 'b', ['a', 'example.com', 7946]], 'ping.source.addr: not an IP address literal'],
      [[0, 1, 'b', ['a', '10.0.0.1', 0]], 'ping.source.port: not an integer in 1..65535'],
      [[0, 1, 'b', ['a', '10.0.0.1', 65536]], 'ping.source.port: not an integer in 1..65535'],
      [[0, 1, 'b', { name: 'a', addr: '10.0.0.1', port: 1 }], 'ping.source: not a list of 3'],
      [[0, 1, 'b'], 'ping: not a list of 4'],
      [[1, 1, ['c', '::1', 1], 'yes', ['a', '::1', 1]], 'ping-req.nack: not a boolean'],
      [[2, 1, 'not bytes'], 'ack.payload: not binary'],
      [[4, 1, ['a', '::1', 1], new Uint8Array(513)], 'alive.meta: longer than 512 bytes'],
      [[4, 1, ['a', '::1', 1], 'meta'], 'alive.meta: not binary'],
      [[5, 1, 'a', 7], 'suspect.from: not a name of 1..255 characters'],
      [[6, '1', 'a', 'b'], 'dead.incarnation: not a non-negative safe integer'],
      [[7, [1, 2]], 'user.data: not binary'],
      [[8, true, [[['a', '::1', 1], 1, 9, new Uint8Array(0)]]], 'push-pull.states[0].state: not a member state'],
      ['ping', 'message: not a list'],
    ];
    for (const [msg, detail] of cases) {
      const r = decodeStream(craft([msg]), o);
      t.same(r, { ok: false, reason: 'invalid_message', detail }, detail);
    }
  },
);

t.test('a body that tries prototype pollution or msgpack extensions is rejected and pollutes nothing', async (t) => {
  const o = { label: 'prod' };
  const proto = Buffer.concat([
    Buffer.from([0x91, 0x81, 0xa9]),
    Buffer.from('__proto__'),
    Buffer.from([0x81, 0xa1, 0x78, 0x01]),
  ]);
  const head = Buffer.from([1, 0, 4, ...Buffer.from('prod')]);
  const pkt = Buffer.concat([head, proto, Buffer.alloc(4)]);
  pkt.writeUInt32BE(crc32(pkt.subarray(0, pkt.length - 4)), pkt.length - 4);
  t.equal(reason(decodePacket(pkt, o)), 'invalid_message');
  t.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype untouched');
  for (const ext of [new Date(0), new Set([1]), new Map([[1, 2]]), /re/, new Error('e'), 10n ** 30n]) {
    t.equal(reason(decodePacket(craft([[4, 1, ['a', '::1', 1], ext]]), o)), 'invalid_message', String(ext));
  }
});

t.test('encodePacket refuses what no receiver would accept', async (t) => {
  t.throws(() => encodePacket([], {}), /empty/);
  t.throws(
    () => encodePacket([{ t: 'alive', incarnation: 1, node: addr('a'), meta: new Uint8Array(513) }], {}),
    /alive\.meta/,
  );
  t.throws(() => encodePacket([{ t: 'nack', seq: 1 }], { label: 'x'.repeat(256) }), /label/);
  // UTF-8 cannot carry a lone surrogate: the name would arrive as a different name.
  t.throws(
    () => encodePacket([{ t: 'suspect', incarnation: 1, node: 'a\uD800', from: 'b' }], {}),
    /suspect\.node: not well-formed Unicode/,
  );
});

t.test('encodedSize and packetOverhead predict the packet length exactly', async (t) => {
  for (const [, opts] of modes) {
    const o = opts();
    fc.assert(
      fc.property(fc.array(arbPacketMessage, { minLength: 1, maxLength: 20 }), (msgs) => {
        const predicted = packetOverhead(o, msgs.length) + msgs.reduce((n, m) => n + encodedSize(m), 0);
        const actual = encodePacket(msgs, o).length;
        if (predicted !== actual) throw new Error(`predicted ${predicted}, got ${actual}`);
      }),
      { numRuns: 200 },
    );
  }
  t.pass('predictions matched for 400 generated compounds');
});

t.test('splitIntoPackets fills packets up to the budget and hands back what can only go by TCP', async (t) => {
  const o = { label: 'prod', keyring: new Keyring([key1]) };
  const alive = (i: number, metaBytes: number): PacketMessage => ({
    t: 'alive',
    incarnation: i,
    node: addr(`n${i}`),
    meta: new Uint8Array(metaBytes),
  });
  const msgs: PacketMessage[] = [];
  for (let i = 0; i < 60; i++) msgs.push(alive(i, 100));
  const huge: PacketMessage = { t: 'user', data: new Uint8Array(DEFAULTS.swim.udpPayload) };
  msgs.splice(10, 0, huge);
  const { packets, oversized } = splitIntoPackets(msgs, o);
  t.same(oversized, [huge]);
  t.equal(packets.flat().length, 60, 'every other message is in some packet');
  const sizes = packets.map((p) => encodePacket(p, o).length);
  t.ok(
    sizes.every((s) => s <= DEFAULTS.swim.udpPayload),
    `all within budget: ${sizes.join(',')}`,
  );
  t.ok(
    sizes.slice(0, -1).every((s) => s > DEFAULTS.swim.udpPayload - encodedSize(alive(1, 100))),
    'no packet but the last could have taken one more',
  );
});

t.test('the typical compound is compact', async (t) => {
  const size = encodePacket(typicalCompound(), { label: 'prod' }).length;
  t.ok(size < 400, `ping + 5 alive with 24-byte meta = ${size} bytes`);
});

t.test('signed membership fields (issue 13) round-trip, and malformed ones are invalid', async (t) => {
  const sig = new Uint8Array(64).fill(1);
  const der = new Uint8Array(300).fill(2);
  const ref = new Uint8Array(16).fill(3);
  const node = { name: 'b', addr: '10.0.0.2', port: 7946 };
  const msgs: PacketMessage[] = [
    { t: 'alive', incarnation: 7, node, meta: new Uint8Array(0), sig, cert: der },
    { t: 'alive', incarnation: 8, node, meta: new Uint8Array(0), sig, cert: ref },
    { t: 'dead', incarnation: 8, node: 'b', from: 'b', sig, cert: ref },
  ];
  // Decoded binary fields are Buffers: compare the bytes.
  const norm = (v: unknown) =>
    JSON.parse(
      JSON.stringify(v, (_k, x: unknown) =>
        x instanceof Uint8Array && !Buffer.isBuffer(x)
          ? [...x]
          : x && typeof x === 'object' && (x as { type?: unknown }).type === 'Buffer'
            ? (x as { data: number[] }).data
            : x,
      ),
    ) as unknown;
  const r = decodePacket(encodePacket(msgs, {}), {});
  t.ok(r.ok && r.msgs.length === 3);
  if (r.ok) t.same(norm(r.msgs), norm(msgs));
  const pp: Message = {
    t: 'push-pull',
    join: false,
    states: [
      { node, incarnation: 8, state: 'left', meta: new Uint8Array(0), sig, cert: der, leave: sig },
      { node, incarnation: 8, state: 'alive', meta: new Uint8Array(0) },
    ],
  };
  const s = decodeStream(encodeStream([pp], {}), {});
  t.ok(s.ok);
  if (s.ok) t.same(norm(s.msgs[0]), norm(pp));
  const bad = new Packr({ useRecords: false, moreTypes: false });
  const body = (v: unknown[]) => {
    const b = bad.pack([v]);
    const head = Buffer.from([1, 0, 0]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head, b])));
    return Buffer.concat([head, b, crc]);
  };
  for (const v of [
    [4, 1, ['b', '10.0.0.2', 7946], new Uint8Array(0), new Uint8Array(10), der],
    [4, 1, ['b', '10.0.0.2', 7946], new Uint8Array(0), sig, new Uint8Array(3)],
    [5, 1, 'b', 'c', sig, der],
  ]) {
    const d = decodePacket(body(v), {});
    t.notOk(d.ok, JSON.stringify(v.map((x) => (x instanceof Uint8Array ? x.length : x))));
  }
});

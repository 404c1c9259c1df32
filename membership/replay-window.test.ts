import t from 'tap';
import { DEFAULT_REPLAY_ENTRIES, ReplayWindow } from './replay-window.js';
import { costGrowth } from '../test/helpers/cost.js';
import { decodePacket, encodePacket, type WireOptions } from './codec.js';
import { Keyring, generateKey } from './keyring.js';
import type { PacketMessage } from './messages.js';

t.test('a nonce is accepted once within the window; times outside it are stale', async (t) => {
  let now = 1_000_000;
  const w = new ReplayWindow(1000, 100, () => now);
  t.equal(w.check(now, 'a'), 'ok');
  t.equal(w.check(now, 'a'), 'replayed');
  t.equal(w.check(now - 1001, 'b'), 'stale', 'too old');
  t.equal(w.check(now + 1001, 'c'), 'stale', 'too far ahead');
  t.equal(w.check(NaN, 'd'), 'stale');
  now += 2000;
  t.equal(w.check(now - 2000, 'a'), 'stale', 'a replay after the window is stale');
});

t.test('memory stays bounded at any rate, and nothing forgotten becomes replayable', async (t) => {
  const now = 1_000_000;
  const w = new ReplayWindow(60_000, 100, () => now);
  let accepted = 0;
  for (let i = 0; i < 10_000; i++) if (w.check(now - 10_000 + i, `n${i}`) === 'ok') accepted++;
  t.equal(accepted, 10_000, 'in time order, every fresh nonce is accepted');
  t.ok(w.size <= 100, `holds ${w.size} nonces`);
  t.equal(w.check(now - 10_000, 'n0'), 'stale', 'a forgotten nonce is refused by the risen lower edge');
  t.equal(w.check(now - 1, 'n9999'), 'replayed');
  t.equal(w.check(now, 'fresh'), 'ok');
});

t.test('an encrypted packet is accepted once; its replay is rejected as replayed, an old one as stale', async (t) => {
  const key = generateKey();
  let now = 1_800_000_000_000;
  const clock = () => now;
  const sender: WireOptions = { keyring: new Keyring([key]), clock };
  const receiver: WireOptions = { keyring: new Keyring([key]), replay: new ReplayWindow(60_000, 1000, clock) };
  const msgs: PacketMessage[] = [{ t: 'suspect', incarnation: 7, node: 'b', from: 'a' }];
  const p = encodePacket(msgs, sender);
  t.ok(decodePacket(p, receiver).ok);
  t.match(decodePacket(p, receiver), { ok: false, reason: 'replayed' });
  const old = encodePacket(msgs, sender);
  now += 61_000;
  t.match(decodePacket(old, receiver), { ok: false, reason: 'stale' });
  const tampered = Buffer.from(encodePacket(msgs, sender));
  tampered[4] ^= 1; // the sender time is authenticated (label '' so it starts at byte 3)
  t.match(decodePacket(tampered, receiver), { ok: false, reason: 'decrypt_failed' });
});

t.test('packets without a sender time (older agents) are refused unless acceptUnstamped', async (t) => {
  const key = generateKey();
  const keyring = new Keyring([key]);
  // Mode 1, as agents before replay protection sealed it: header ‖ nonce ‖ ciphertext ‖ tag.
  const { Packr } = await import('msgpackr');
  const body = new Packr({ useRecords: false }).pack([[5, 7, 'b', 'a']]);
  const h = Buffer.from([1, 1, 0]);
  const legacy = Buffer.concat([h, keyring.seal(body, h)]);
  t.match(decodePacket(legacy, { keyring, replay: new ReplayWindow() }), { ok: false, reason: 'stale' });
  t.ok(decodePacket(legacy, { keyring, replay: new ReplayWindow(), acceptUnstamped: true }).ok);
});

t.test('a flood of fresh authentic packets costs the same per packet at 65,536 nonces as at 64', async (t) => {
  // A keyholder (or a busy cluster) sending faster than maxEntries per window keeps it full.
  let now = 1_000_000;
  const g = costGrowth(
    { small: 64, large: DEFAULT_REPLAY_ENTRIES },
    (n) => new ReplayWindow(60_000, n, () => now),
    (w, i) => {
      now += 0.01;
      w.check(now, `n${i}`);
    },
  );
  t.ok(
    g.ratio < 6,
    `ns per packet: ${g.small.toFixed(0)} at 64, ${g.large.toFixed(0)} at 65,536 (x${g.ratio.toFixed(1)})`,
  );
});

t.test('steady traffic within the window costs the same per packet with 60,000 nonces kept as with 60', async (t) => {
  // 1,000 packets a second for a 60 s window: every packet forgets the one a minute older.
  let now = 1_000_000;
  let refused = 0;
  const g = costGrowth(
    { small: 60, large: 60_000 },
    (n) => new ReplayWindow(n, DEFAULT_REPLAY_ENTRIES, () => now),
    (w, i) => {
      now += 1;
      if (w.check(now, `s${i}`) !== 'ok') refused++;
    },
  );
  t.equal(refused, 0, 'every packet within the window is taken');
  t.ok(
    g.ratio < 6,
    `ns per packet: ${g.small.toFixed(0)} with 60, ${g.large.toFixed(0)} with 60,000 (x${g.ratio.toFixed(1)})`,
  );
});

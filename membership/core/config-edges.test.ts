// The presets and the config checks at their edges: the values serf comparisons rely on,
// and each bound validateConfig enforces, on both sides of it (issue 18's mutation survivors).
import t, { type Test } from 'tap';
import { makeConfig, PRESETS, validateConfig, type SwimConfig } from './config.js';

t.test('the lan preset is memberlist DefaultLANConfig plus weft’s own knobs', async (t) => {
  t.same(PRESETS.lan, {
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    retransmitMult: 4,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    awarenessMaxMultiplier: 8,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    gossipToTheDeadTimeMs: 30_000,
    pushPullIntervalMs: 30_000,
    healIntervalMs: 10_000,
    reapAfterMs: 86_400_000,
    tcpTimeoutMs: 10_000,
    udpPayload: 1400,
    packetOverhead: 48,
    messageOverhead: 2,
    maxQueuedBroadcasts: 4096,
    incarnationLeadS: 86_400,
  });
});

t.test('wan and local differ from lan only where memberlist’s presets do', async (t) => {
  const diff = (c: SwimConfig) =>
    Object.fromEntries(Object.entries(c).filter(([k, v]) => PRESETS.lan[k as keyof SwimConfig] !== v));
  t.same(diff(PRESETS.wan), {
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3000,
    probeIntervalMs: 5000,
    gossipNodes: 4,
    gossipIntervalMs: 500,
    gossipToTheDeadTimeMs: 60_000,
    healIntervalMs: 30_000,
  });
  t.same(diff(PRESETS.local), {
    tcpTimeoutMs: 1000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    gossipIntervalMs: 100,
    gossipToTheDeadTimeMs: 15_000,
    healIntervalMs: 5000,
  });
});

t.test('makeConfig: default preset, overrides, undefined overrides keep the preset', async (t) => {
  t.same(makeConfig(), PRESETS.lan, 'lan by default');
  t.not(makeConfig(), PRESETS.lan, 'a copy: the preset is never changed through it');
  t.same(makeConfig('wan'), PRESETS.wan);
  const c = makeConfig('local', { probeIntervalMs: 2000, gossipNodes: undefined });
  t.equal(c.probeIntervalMs, 2000);
  t.equal(c.gossipNodes, PRESETS.local.gossipNodes, 'an undefined override is no override');
  t.equal(PRESETS.local.probeIntervalMs, 1000, 'the preset itself is untouched');
  t.throws(() => makeConfig('nope' as 'lan'), { name: 'RangeError', message: /unknown membership preset nope/ });
});

function rejects(t: Test, overrides: Partial<SwimConfig>, message: RegExp): void {
  t.throws(() => makeConfig('lan', overrides), { name: 'RangeError', message }, JSON.stringify(overrides));
}

function accepts(t: Test, overrides: Partial<SwimConfig>): void {
  t.doesNotThrow(() => makeConfig('lan', overrides), JSON.stringify(overrides));
}

t.test('every field must be a finite number >= 0; 0 is allowed where it means off', async (t) => {
  rejects(t, { reapAfterMs: -1 }, /^membership config reapAfterMs: expected a finite number >= 0, got -1$/);
  rejects(t, { reapAfterMs: Infinity }, /reapAfterMs: expected a finite number >= 0, got Infinity/);
  rejects(t, { reapAfterMs: NaN }, /got NaN/);
  rejects(t, { reapAfterMs: '5' as unknown as number }, /got 5$/);
  accepts(t, { pushPullIntervalMs: 0, healIntervalMs: 0, incarnationLeadS: 0, reapAfterMs: 0 });
  t.throws(() => validateConfig({ ...PRESETS.lan, indirectChecks: -0.5 }), /indirectChecks/);
});

t.test('probe interval and timeout: interval > 0, 0 < timeout < interval', async (t) => {
  rejects(t, { probeIntervalMs: 0 }, /^membership config probeIntervalMs must be > 0$/);
  rejects(t, { probeTimeoutMs: 0 }, /^membership config probeTimeoutMs must be > 0 and < probeIntervalMs$/);
  rejects(t, { probeTimeoutMs: 1000 }, /probeTimeoutMs must be > 0 and < probeIntervalMs/);
  accepts(t, { probeTimeoutMs: 999 });
  accepts(t, { probeTimeoutMs: 1 });
});

t.test('gossip interval must be > 0 only when there is gossip to send', async (t) => {
  rejects(t, { gossipIntervalMs: 0 }, /^membership config gossipIntervalMs must be > 0$/);
  rejects(t, { gossipNodes: 1, gossipIntervalMs: 0 }, /gossipIntervalMs must be > 0/);
  accepts(t, { gossipNodes: 0, gossipIntervalMs: 0 });
  accepts(t, { gossipNodes: 1, gossipIntervalMs: 1 });
});

t.test('multipliers are at least 1', async (t) => {
  rejects(t, { awarenessMaxMultiplier: 0.5 }, /^membership config awarenessMaxMultiplier must be >= 1$/);
  accepts(t, { awarenessMaxMultiplier: 1 });
  rejects(t, { suspicionMaxTimeoutMult: 0.5 }, /^membership config suspicionMaxTimeoutMult must be >= 1$/);
  accepts(t, { suspicionMaxTimeoutMult: 1 });
});

t.test('a datagram must hold more than its overhead plus 64 bytes', async (t) => {
  rejects(t, { udpPayload: 48 + 64 }, /^membership config udpPayload too small for the packet overhead$/);
  accepts(t, { udpPayload: 48 + 65 });
  rejects(t, { udpPayload: 200, packetOverhead: 136 }, /udpPayload too small/);
});

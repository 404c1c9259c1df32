// Throughput of the wire codec on the compound the core sends most (ping + 5 alive).
// Run: node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs membership/codec.bench.ts
// or call benchCodec() from the bench runner.

import { pathToFileURL } from 'node:url';
import { decodePacket, encodePacket, type WireOptions } from './codec.js';
import { Keyring, generateKey } from './keyring.js';
import { typicalCompound } from './wire-arbitraries.js';

export interface CodecFigures {
  mode: 'plain' | 'encrypted';
  packetBytes: number;
  roundTripsPerSecond: number;
  microsPerRoundTrip: number;
}

function measure(mode: CodecFigures['mode'], opts: WireOptions, ms: number): CodecFigures {
  const msgs = typicalCompound();
  const packetBytes = encodePacket(msgs, opts).length;
  for (let i = 0; i < 2000; i++) decodePacket(encodePacket(msgs, opts), opts); // warm up the JIT
  let n = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 500; i++) {
      const r = decodePacket(encodePacket(msgs, opts), opts);
      if (!r.ok) throw new Error(`benchmark packet rejected: ${r.reason}`);
    }
    n += 500;
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  return {
    mode,
    packetBytes,
    roundTripsPerSecond: Math.round(n / seconds),
    microsPerRoundTrip: +((seconds / n) * 1e6).toFixed(2),
  };
}

export function benchCodec(ms = 2000): CodecFigures[] {
  return [
    measure('plain', { label: 'prod' }, ms),
    measure('encrypted', { label: 'prod', keyring: new Keyring([generateKey()]) }, ms),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const f of benchCodec()) console.log(JSON.stringify(f));
}

// Unpredictable bits for what an off-path attacker must guess: upstream query ids and the
// 0x20 case of upstream names. From node:crypto, drawn a kilobyte at a time so a query costs
// no system call; Math.random's state can be recovered from a few outputs, so it is not used.
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(1024);
let at = pool.length;

/** 32 random bits, as an unsigned integer. */
export function cryptoRandom32(): number {
  if (at + 4 > pool.length) {
    randomFillSync(pool);
    at = 0;
  }
  const v = pool.readUInt32LE(at);
  at += 4;
  return v;
}

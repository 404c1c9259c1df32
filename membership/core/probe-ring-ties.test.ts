// The probe ring when two names hash alike (issue 18's mutation survivors in probe-ring.ts: the
// name tie-break was never reached). The ring sorts members by a hash of their name; names whose
// 32-bit FNV-1a hashes collide get the same key in every cycle, and only the tie-break on the
// name keeps every node's ring the same. Each node's table holds its members in the order it
// learned of them, so a tie-break that leaned on that order would split the ring.
import t from 'tap';
import { MemberTable, type Member } from './members.js';
import { ProbeRing } from './probe-ring.js';
import { Xoshiro128 } from '../../base/rng.js';

// Found by search: FNV-1a("node-522789") === FNV-1a("node-739192"), and so for each pair.
const PAIRS = [
  ['node-522789', 'node-739192'],
  ['node-522788', 'node-739193'],
  ['node-522783', 'node-739198'],
];
const NAMES = [...PAIRS.flat(), 'a', 'b', 'c', 'd'];

function member(name: string): Member {
  return { name, addr: '10.0.0.1', port: 7946, meta: new Uint8Array(), incarnation: 0, state: 'alive', lastChange: 0 };
}

/** `self`'s ring, its table filled in the given order. */
function ringOf(self: string, order: readonly string[]): ProbeRing {
  const table = new MemberTable(member(self), new Xoshiro128(1));
  for (const n of order) if (n !== self) table.add(member(n));
  return new ProbeRing(table);
}

t.test(
  'colliding names: every live member is probed exactly once per round, whatever order each node learned them in',
  async (t) => {
    const orders = [NAMES, [...NAMES].reverse(), [...NAMES.slice(5), ...NAMES.slice(0, 5)]];
    const rings = NAMES.map((self, i) => ({ self, ring: ringOf(self, orders[i % orders.length]) }));
    const span = NAMES.length - 1;
    for (let round = 0; round < span * 4; round++) {
      const probed = rings.map(({ ring }) => ring.target(round)?.name ?? '-');
      t.same([...probed].sort(), [...NAMES].sort(), `round ${round}: ${probed.join(' ')}`);
    }
  },
);

t.test('colliding names sit side by side, the lower name first, in every cycle', async (t) => {
  // Pinned like probe-ring-edges' order: nodes of two versions must break ties alike.
  const span = NAMES.length - 1;
  for (const [low, high] of PAIRS) {
    const fromLow = ringOf(low, [...NAMES].reverse());
    const fromHigh = ringOf(high, NAMES);
    for (let cycle = 0; cycle < 5; cycle++) {
      t.equal(fromLow.target(cycle * span)?.name, high, `cycle ${cycle}: ${low} probes ${high} first`);
      t.equal(fromHigh.target(cycle * span + span - 1)?.name, low, `cycle ${cycle}: ${high} probes ${low} last`);
    }
  }
});

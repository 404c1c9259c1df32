// The gossip queue against a plain model of its rules (issue 18's mutation survivors in
// broadcast-queue.ts): least transmitted first and, among equals, in the order they came
// to that count; the updates about `first` nodes ahead of all; a walk that stops once no
// message could fit; a newer update about a node replacing the queued one; the most
// transmitted pruned first over capacity; onDone exactly once per entry that leaves.
import t from 'tap';
import fc from 'fast-check';
import type { PacketMessage } from '../messages.js';
import { BroadcastQueue } from './broadcast-queue.js';

/** The queue's smallest message; the walk stops when less than this (plus overhead) is left. */
const SMALLEST = 12;

interface Entry {
  id: number;
  key: string | undefined;
  bytes: number;
  transmits: number;
  /** When it came to its current transmit count: the order among equals. */
  since: number;
}

class Model {
  entries: Entry[] = [];
  done: number[] = [];
  private clock = 0;

  constructor(private readonly max: number) {}

  enqueue(id: number, key: string | undefined, bytes: number): void {
    const old = key === undefined ? undefined : this.entries.find((e) => e.key === key);
    if (old) this.drop(old);
    this.entries.push({ id, key, bytes, transmits: 0, since: this.clock++ });
    while (this.entries.length > this.max) {
      const top = Math.max(...this.entries.map((e) => e.transmits));
      this.drop(this.inOrder().find((e) => e.transmits === top)!);
    }
  }

  take(budget: number, per: number, limit: number, first: string[]): { ids: number[]; used: number } {
    let left = budget;
    const taken: Entry[] = [];
    for (const k of first) {
      const e = this.entries.find((x) => x.key === k);
      if (!e || taken.includes(e) || e.bytes + per > left) continue;
      taken.push(e);
      left -= e.bytes + per;
    }
    for (const e of this.inOrder()) {
      if (left < SMALLEST + per) break;
      if (taken.includes(e) || e.bytes + per > left) continue;
      taken.push(e);
      left -= e.bytes + per;
    }
    for (const e of taken) {
      e.transmits++;
      e.since = this.clock++;
      if (e.transmits >= limit) this.drop(e);
    }
    return { ids: taken.map((e) => e.id), used: budget - left };
  }

  clear(): void {
    for (const e of this.inOrder()) this.done.push(e.id);
    this.entries = [];
  }

  private inOrder(): Entry[] {
    return [...this.entries].sort((a, b) => a.transmits - b.transmits || a.since - b.since);
  }

  private drop(e: Entry): void {
    this.entries = this.entries.filter((x) => x !== e);
    this.done.push(e.id);
  }
}

type Op =
  | { op: 'enqueue'; key: string | undefined; bytes: number }
  | { op: 'take'; budget: number; per: number; limit: number; first: string[] }
  | { op: 'clear' };

const keyArb = fc.option(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { nil: undefined, freq: 4 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('enqueue' as const), key: keyArb, bytes: fc.integer({ min: 1, max: 60 }) }) }, // prettier-ignore
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('take' as const),
      budget: fc.integer({ min: 0, max: 200 }),
      per: fc.integer({ min: 0, max: 4 }),
      limit: fc.integer({ min: 1, max: 4 }),
      first: fc.array(fc.constantFrom('a', 'b', 'c', 'x'), { maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

t.test('the queue does what the model of its rules does, over random operations', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(opArb, { maxLength: 60 }), (max, ops) => {
      const q = new BroadcastQueue(max);
      const m = new Model(max);
      const done: number[] = [];
      const idOf = new Map<PacketMessage, number>();
      let id = 0;
      for (const o of ops) {
        if (o.op === 'enqueue') {
          const n = id++;
          const msg: PacketMessage = { t: 'user', data: new Uint8Array([n & 255]) };
          idOf.set(msg, n);
          q.enqueue(o.key, msg, o.bytes, () => done.push(n));
          m.enqueue(n, o.key, o.bytes);
        } else if (o.op === 'take') {
          const out: PacketMessage[] = [];
          const used = q.take(o.budget, o.per, o.limit, out, o.first);
          const want = m.take(o.budget, o.per, o.limit, o.first);
          const got = out.map((x) => idOf.get(x));
          if (JSON.stringify(got) !== JSON.stringify(want.ids) || used !== want.used)
            throw new Error(`take: got ${JSON.stringify([got, used])}, model ${JSON.stringify([want.ids, want.used])}`);
        } else {
          q.clear();
          m.clear();
        }
        if (q.size !== m.entries.length) throw new Error(`size ${q.size}, model ${m.entries.length}`);
        for (const k of ['a', 'b', 'c', 'd', 'e']) {
          const e = m.entries.find((x) => x.key === k);
          const p = q.peek(k);
          if ((p && idOf.get(p)) !== e?.id) throw new Error(`peek ${k}`);
        }
        if (JSON.stringify([...done].sort((a, b) => a - b)) !== JSON.stringify([...m.done].sort((a, b) => a - b)))
          throw new Error(`onDone ${JSON.stringify(done)}, model ${JSON.stringify(m.done)}`);
      }
    }),
    { numRuns: 1000 },
  );
  t.pass('1,000 random sequences');
});

// The user-event core, sans-IO: dedupe is exact and bounded, a cluster delivers every event
// exactly once at every node whatever the order and duplication of relays, sizes and floods
// are bounded, and with identity on nobody fires in another node's name.
import fc from 'fast-check';
import t from 'tap';
import { makePki } from '../../test/helpers/identity.js';
import { EventDedupe } from './dedupe.js';
import { identityEventAuth } from './event-auth.js';
import { decodeEvent, EVENT_TAG, MAX_EVENT_BYTES, UserEvents, type UserEvent } from './user-events.js';

const NOW = 1_700_000_000_000;

t.test('dedupe: an id is new at most once, ever, and memory stays bounded', async (t) => {
  const ids = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 300 })), { maxLength: 400 });
  fc.assert(
    fc.property(ids, fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 64 }), (seq, window, max) => {
      const d = new EventDedupe(window, max);
      const admitted = new Set<string>();
      for (const [o, l] of seq) {
        const r = d.admit(o, l);
        const id = `${o}/${l}`;
        if (r === 'new') {
          if (admitted.has(id)) return false;
          admitted.add(id);
        }
        // Only what was admitted before is a duplicate.
        if (r === 'duplicate' && !admitted.has(id)) return false;
        if (d.size > max) return false;
      }
      return true;
    }),
  );
  const d = new EventDedupe(10, 100);
  t.equal(d.admit('a', 100), 'new');
  t.equal(d.admit('b', 100), 'new', 'another origin at the same time is another event');
  t.equal(d.admit('a', 100), 'duplicate');
  t.equal(d.admit('a', 95), 'new', 'within the window');
  t.equal(d.admit('a', 89), 'too_old', 'beyond the window');
  const full = new EventDedupe(1_000, 3);
  for (const l of [1, 2, 3, 4]) full.admit('x', l);
  t.equal(full.admit('x', 1), 'too_old', 'evicted when full: a late copy is too old, not new again');
});

/** A cluster of cores where every relay reaches every other node, in shuffled order with copies. */
function simulate(names: string[], fires: [number, string][], order: (n: number) => number[], copies: number) {
  const nodes = new Map(names.map((n) => [n, new UserEvents({ self: n })]));
  const delivered = new Map(names.map((n) => [n, [] as UserEvent[]]));
  const inFlight: [string, Uint8Array][] = [];
  fires.forEach(([who, name], i) => {
    const origin = names[who % names.length]!;
    const r = nodes.get(origin)!.fire(NOW + i, name, Buffer.from(`p${i}`));
    if ('error' in r) throw new Error(r.error);
    delivered.get(origin)!.push(r.event);
    for (const n of names) if (n !== origin) for (let c = 0; c < copies; c++) inFlight.push([n, r.data]);
  });
  while (inFlight.length) {
    const idx = order(inFlight.length)[0]! % inFlight.length;
    const [to, data] = inFlight.splice(idx, 1)[0]!;
    const r = nodes.get(to)!.receive(NOW + 1000, data);
    if ('event' in r) {
      delivered.get(to)!.push(r.event);
      for (const n of names) if (n !== to) inFlight.push([n, r.relay]);
    }
  }
  return delivered;
}

t.test('a cluster delivers every event exactly once at every node, whatever the order and copies', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.constantFrom('deploy', 'restart')), { minLength: 1, maxLength: 8 }),
      fc.infiniteStream(fc.nat()),
      fc.integer({ min: 1, max: 3 }),
      (fires, stream, copies) => {
        const it = stream[Symbol.iterator]();
        const delivered = simulate(['n1', 'n2', 'n3', 'n4', 'n5'], fires, () => [it.next().value as number], copies);
        for (const list of delivered.values()) {
          const ids = list.map((e) => `${e.origin}/${e.lamport}`);
          if (ids.length !== fires.length || new Set(ids).size !== fires.length) return false;
        }
        return true;
      },
    ),
    { numRuns: 60 },
  );
  t.pass('5 nodes, up to 8 events, up to 3 copies of every relay, any order');
});

t.test('limits: 512 bytes of name and payload, names, garbage', async (t) => {
  const n = new UserEvents({ self: 'n1' });
  t.ok('event' in n.fire(NOW, 'x', Buffer.alloc(MAX_EVENT_BYTES - 1)), '512 bytes is fine');
  const big = n.fire(NOW, 'x', Buffer.alloc(MAX_EVENT_BYTES));
  t.match(big, { reason: 'too_large', error: /513 bytes; at most 512/ });
  t.match(n.fire(NOW, 'bad name', Buffer.alloc(0)), { reason: 'bad_name' });
  const r = new UserEvents({ self: 'n2' });
  t.match(r.receive(NOW, Buffer.from([EVENT_TAG, 1, 2, 3])), { reject: 'malformed' });
  t.match(r.receive(NOW, Buffer.from('not an event')), { reject: 'malformed' });
  t.equal(decodeEvent(new Uint8Array(0)), 'malformed');
  const future = new UserEvents({ self: 'n3' }).fire(NOW + 3_600_000, 'x', Buffer.alloc(0));
  t.match(
    r.receive(NOW, (future as { data: Uint8Array }).data),
    { reject: 'future' },
    'an event stamped an hour ahead is refused',
  );
});

t.test('a flood from one origin is bounded at every receiver', async (t) => {
  const flooder = new UserEvents({ self: 'bad', ratePerSec: 1e9, burst: 1e9 });
  const r = new UserEvents({ self: 'good' });
  let admitted = 0;
  for (let i = 0; i < 1000; i++) {
    const f = flooder.fire(NOW, 'spam', Buffer.from(String(i)));
    if ('data' in f && 'event' in r.receive(NOW, f.data)) admitted++;
  }
  t.equal(admitted, 50, 'the burst, then nothing');
  t.equal(r.rejected.rate, 950);
  const later = flooder.fire(NOW + 1000, 'spam', Buffer.from('x'));
  t.ok('event' in r.receive(NOW + 1000, (later as { data: Uint8Array }).data), 'a second later, the rate refills');
  const own = new UserEvents({ self: 'me' });
  for (let i = 0; i < 50; i++) own.fire(NOW, 'e', Buffer.alloc(0));
  t.match(
    own.fire(NOW, 'e', Buffer.alloc(0)),
    { reason: 'rate', error: /more than 10 events a second/ },
    'the origin refuses its own flood',
  );
  // Without identity an origin name is free to forge: a flood under fresh names meets the total bound.
  const victim = new UserEvents({ self: 'good' });
  let forged = 0;
  for (let i = 0; i < 1000; i++) {
    const f = new UserEvents({ self: `fake-${i}` }).fire(NOW, 'spam', Buffer.alloc(0));
    if ('data' in f && 'event' in victim.receive(NOW, f.data)) forged++;
  }
  t.equal(forged, 200, 'a flood under 1000 names: twice the total rate a second, then nothing');
});

t.test('with identity: events are signed by their origin; unsigned and forged ones are refused', async (t) => {
  const pki = makePki(['n1', 'n2', 'n3']);
  t.teardown(() => pki.cleanup());
  const core = (name: string) => new UserEvents({ self: name, auth: identityEventAuth(() => pki.identity(name)) });
  const n1 = core('n1');
  const auth = identityEventAuth(() => pki.identity('n2'));
  let verified = 0;
  const n2 = new UserEvents({
    self: 'n2',
    auth: { sign: auth.sign, verify: (...a) => (verified++, auth.verify(...a)) },
  });
  const fired = n1.fire(Date.now(), 'deploy', Buffer.from('v2'));
  t.ok('event' in n2.receive(Date.now(), (fired as { data: Uint8Array }).data), 'a signed event is taken');
  t.match(n2.receive(Date.now(), (fired as { data: Uint8Array }).data), { reject: 'duplicate' });
  t.equal(verified, 1, 'a copy of a known event costs no signature check');
  const unsigned = new UserEvents({ self: 'n1' }).fire(Date.now() + 1, 'deploy', Buffer.from('v3'));
  t.match(n2.receive(Date.now(), (unsigned as { data: Uint8Array }).data), { reject: 'unsigned' });
  // n3 signs with its own key and certificate but names n1 as the origin.
  const forger = new UserEvents({ self: 'n1', auth: identityEventAuth(() => pki.identity('n3')) });
  const forged = forger.fire(Date.now() + 2, 'deploy', Buffer.from('evil'));
  t.match(n2.receive(Date.now(), (forged as { data: Uint8Array }).data), {
    reject: 'bad_signature',
    detail: /n3's, not n1's/,
  });
});

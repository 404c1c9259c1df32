// Auth records on the replication wire (issue 13): pushes and sync items carry them, old
// forms without them still decode, and malformed ones are refused like any bad field.
import t from 'tap';
import { Packr } from 'msgpackr';
import { decode, encode, type Message } from './wire.js';

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });
const id = '0123456789abcdef';
const hash = 'ab'.repeat(32);

t.test('push and sync carry auth records; forms without them decode as before', async (t) => {
  const push: Message = {
    t: 'push',
    origin: 'a',
    limit: 3,
    changes: [
      { docId: 'n/a', epoch: 5, id, change: new Uint8Array([1, 2]), auth: new Uint8Array([9, 9, 9]) },
      { docId: 's/1', epoch: 0, id, change: new Uint8Array([3]) },
    ],
  };
  t.same(decode(encode(push)), { ok: true, msg: push });
  const sync: Message = {
    t: 'sync-reply',
    session: 1,
    more: false,
    items: [
      { docId: 'n/a', epoch: 5, msg: new Uint8Array([4]), auths: new Map([[hash, new Uint8Array([7])]]) },
      { docId: 's/2', epoch: 0, msg: new Uint8Array([5]) },
    ],
  };
  t.same(decode(encode(sync)), { ok: true, msg: sync });
});

t.test('malformed auth records are refused as invalid fields', async (t) => {
  const bad = (v: unknown) => decode(packr.pack(v));
  t.same(bad([1, 'a', 3, [['n/a', 5, Buffer.from(id, 'hex'), Buffer.from([1]), 'not bytes']]]), {
    ok: false,
    reason: 'invalid_field',
  });
  t.same(bad([1, 'a', 3, [['n/a', 5, Buffer.from(id, 'hex'), Buffer.from([1]), Buffer.from([1]), 'extra']]]), {
    ok: false,
    reason: 'invalid_field',
  });
  t.same(
    bad([7, 1, [['n/a', 5, Buffer.from([4]), [[Buffer.alloc(31), Buffer.from([7])]]]], false]),
    { ok: false, reason: 'invalid_field' },
    'a hash of 31 bytes',
  );
  t.same(
    bad([7, 1, [['n/a', 5, Buffer.from([4]), [[Buffer.alloc(32)]]]], false]),
    { ok: false, reason: 'invalid_field' },
    'a pair without its record',
  );
  t.same(
    bad([7, 1, [['n/a', 5, Buffer.from([4]), [[Buffer.alloc(32), Buffer.alloc(0)]]]], false]),
    { ok: false, reason: 'invalid_field' },
    'an empty record',
  );
});

// The watched kinds as level-triggered state: each API listing becomes key -> value, and a
// change is exactly what differs from what the handler last saw.
import t from 'tap';
import { diffSnapshots, snapshotOf, WATCH_KINDS } from './snapshot.js';

t.test('diff: puts of new or changed values, deletes of keys gone, nothing for equal rewrites', async (t) => {
  const before = new Map([
    ['a', '1'],
    ['b', '{"x":1}'],
    ['c', '"same"'],
  ]);
  const after = new Map([
    ['b', '{"x":2}'],
    ['c', '"same"'],
    ['d', 'null'],
  ]);
  t.same(diffSnapshots(before, after), [
    { op: 'delete', key: 'a' },
    { op: 'put', key: 'b', value: { x: 2 } },
    { op: 'put', key: 'd', value: null },
  ]);
  t.same(diffSnapshots(after, after), [], 'the same state: no change');
});

t.test('each kind reads its listing, under the prefix', async (t) => {
  const kv = snapshotOf(WATCH_KINDS.kv!, { entries: [{ key: 'app/a', value: 1, index: 7 }] }, 'app/');
  t.same([...kv], [['app/a', '1']], 'kv: the index is no part of the value');
  const services = snapshotOf(
    WATCH_KINDS.service!,
    {
      services: [
        { service: 'web', endpoints: [{ node: 'n1', id: 'w1', addrs: ['10.0.0.1'], health: 'passing' }] },
        { service: 'db', endpoints: [{ node: 'n2', id: 'd1', addrs: ['10.0.0.2'], health: 'passing' }] },
      ],
    },
    'we',
  );
  t.same([...services.keys()], ['web/n1/w1'], 'service: SERVICE/NODE/ID of services named PREFIX...');
  const members = (incarnation: number, lastChange: string) =>
    snapshotOf(
      WATCH_KINDS.members!,
      { members: [{ name: 'n1', addr: '10.0.0.1', port: 7946, state: 'alive', meta: '', incarnation, lastChange }] },
      '',
    );
  t.same(
    diffSnapshots(members(1, 'x'), members(2, 'y')),
    [],
    'members: a refuted suspicion (new incarnation) is no change',
  );
  const vips = snapshotOf(
    WATCH_KINDS.vip!,
    {
      vips: [
        { key: 'web:80/tcp', vip: 'web', addr: '198.18.0.9', port: 80, proto: 'tcp', backends: ['10.0.0.1:8080'] },
      ],
    },
    '',
  );
  t.same(JSON.parse(vips.get('web:80/tcp')!), {
    vip: 'web',
    addr: '198.18.0.9',
    port: 80,
    proto: 'tcp',
    backends: ['10.0.0.1:8080'],
  });
  t.throws(
    () => snapshotOf(WATCH_KINDS.kv!, { error: 'x' }, ''),
    /no "entries" list/,
    'an answer of the wrong shape fails the pass (it is retried)',
  );
});

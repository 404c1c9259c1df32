// KV check-and-set, recursive delete and strict values, on a real agent through /v1/kv and `weft kv`.
import t from 'tap';
import { apiCall as api, runCli, startAgent } from '../test/helpers/agent-process.js';

t.test('check-and-set, recursive delete, invalid JSON and empty keys', async (t) => {
  const a = await startAgent(t, ['--node', 'cas1', '--bind', '127.0.9.1']);
  const env = { WEFT_API: a.ready.api! };

  // The API: every read carries the key's index; a write with ?cas= succeeds only at that index.
  t.equal((await api(a, 'PUT', '/v1/kv/cfg?cas=0', { v: 1 })).status, 200, 'cas=0 creates a key that does not exist');
  const created = await api(a, 'GET', '/v1/kv/cfg');
  const i1 = created.body.index as number;
  t.ok(i1 > 0, `a key has an index (${i1})`);
  const again = await api(a, 'PUT', '/v1/kv/cfg?cas=0', { v: 9 });
  t.equal(again.status, 409, 'cas=0 on an existing key: 409');
  t.match(again.body.error, /exists/);
  const put2 = await api(a, 'PUT', `/v1/kv/cfg?cas=${i1}`, { v: 2 });
  t.equal(put2.status, 200, 'cas at the current index writes');
  const i2 = put2.body.index as number;
  t.ok(i2 > i1, `and the index grows (${i1} -> ${i2})`);
  const stale = await api(a, 'PUT', `/v1/kv/cfg?cas=${i1}`, { v: 3 });
  t.equal(stale.status, 409, 'a stale index: 409');
  t.match(stale.body.error, new RegExp(`at index ${i2}, not ${i1}`));
  t.same((await api(a, 'GET', '/v1/kv/cfg')).body.value, { v: 2 }, 'nothing written by the refused put');
  t.equal((await api(a, 'PUT', '/v1/kv/cfg?cas=x', 1)).status, 400, 'a cas that is no number: 400');
  t.same(
    ((await api(a, 'GET', '/v1/kv?prefix=cf')).body.entries as unknown[])[0],
    { key: 'cfg', value: { v: 2 }, index: i2 },
    'ls shows the index',
  );

  // The CLI: a mismatch exits 1 with the reason, a bad index exits 2.
  const casBad = await runCli(['kv', 'put', '--cas', String(i1), 'cfg', '{"v":4}'], env);
  t.equal(casBad.code, 1, 'kv put --cas with a stale index: exit 1');
  t.match(casBad.stderr, /cas: "cfg" is at index \d+, not \d+/);
  t.notMatch(casBad.stderr, /at \S+:\d+:\d+/, 'no stack trace');
  t.equal(
    (await runCli(['kv', 'put', '--cas', String(i2), 'cfg', '{"v":4}'], env)).code,
    0,
    'kv put --cas at the current index',
  );
  t.equal((await runCli(['kv', 'put', '--cas', 'soon', 'cfg', '1'], env)).code, 2, '--cas soon: usage error');

  // Invalid JSON is refused unless --raw.
  const typo = await runCli(['kv', 'put', 'j', '{"a":1'], env);
  t.equal(typo.code, 2, 'invalid JSON: exit 2');
  t.match(typo.stderr, /not JSON.*--raw/);
  t.equal((await api(a, 'GET', '/v1/kv/j')).status, 404, 'and nothing stored');
  t.equal((await runCli(['kv', 'put', '--raw', 'j', '{"a":1'], env)).code, 0);
  t.equal((await api(a, 'GET', '/v1/kv/j')).body.value, '{"a":1', '--raw stores the text as a string');
  t.equal((await runCli(['kv', 'put', 'n', '42'], env)).code, 0);
  t.equal((await api(a, 'GET', '/v1/kv/n')).body.value, 42, 'valid JSON is stored as JSON');

  // Empty keys: exit 2 in the CLI, 400 in the API.
  for (const args of [
    ['put', '', '1'],
    ['get', ''],
    ['del', ''],
    ['del', '--recurse', ''],
  ]) {
    const r = await runCli(['kv', ...args], env);
    t.equal(r.code, 2, `kv ${args.join(' ')}: exit 2`);
    t.match(r.stderr, /key is empty/);
  }
  const emptyPut = await api(a, 'PUT', '/v1/kv/', 1);
  t.ok(
    emptyPut.status >= 400 && emptyPut.status < 500,
    `PUT /v1/kv/: refused (${emptyPut.status}: ${emptyPut.body.error})`,
  );
  t.equal((await api(a, 'PUT', '/v1/kv/%2F', 1)).status, 200, 'the key "/" is a key (not empty)');
  t.equal((await api(a, 'DELETE', '/v1/kv/%2F', 1)).status, 200);

  // Recursive delete: every key under the prefix, nothing else.
  for (const k of ['app/a', 'app/b', 'app/c/d', 'apple']) t.equal((await api(a, 'PUT', `/v1/kv/${k}`, 1)).status, 200);
  const rec = await api(a, 'DELETE', '/v1/kv/app/?recurse=true');
  t.same(rec.body, { prefix: 'app/', deleted: 3 });
  t.same(
    ((await api(a, 'GET', '/v1/kv?prefix=app')).body.entries as { key: string }[]).map((e) => e.key),
    ['apple'],
    'apple is not under app/',
  );
  for (const k of ['x/1', 'x/2']) t.equal((await api(a, 'PUT', `/v1/kv/${k}`, 1)).status, 200);
  const cli = await runCli(['kv', 'delete', '--recurse', 'x/'], env);
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stderr, /deleted 2 keys under "x\/"/);
  t.same((await api(a, 'GET', '/v1/kv?prefix=x/')).body.entries, []);
});

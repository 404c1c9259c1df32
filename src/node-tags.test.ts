// Node tags (issue 14): read from the config file, the environment and repeatable flags,
// bounded so they fit in gossip metadata, and read back from a peer's metadata, which is
// untrusted input.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.js';
import { encodeMeta, hasNodeTags, parseNodeTagFilter, tagsOf, NODE_TAGS_MAX_BYTES } from './node-meta.js';
import { MAX_META_BYTES } from '../membership/index.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-node-tags-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const refused = async (inputs: Parameters<typeof loadConfig>[0]): Promise<string> => {
  try {
    await loadConfig(inputs);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.join('\n');
    throw e;
  }
  return 'accepted';
};

t.test('node.tags from a file mapping, the environment, or the (joined) flag', async (t) => {
  const file = join(dir, 'a.yaml');
  writeFileSync(file, 'node:\n  tags: {role: web, rack: 12}\n');
  t.same((await loadConfig({ file })).config.node.tags, { role: 'web', rack: '12' }, 'a YAML number is read as text');
  t.same((await loadConfig({ env: { WEFT_NODE_TAGS: 'role=db,zone=a' } })).config.node.tags, { role: 'db', zone: 'a' });
  t.same((await loadConfig({ flags: { tag: 'role=web,zone=b' } })).config.node.tags, { role: 'web', zone: 'b' });
  t.same((await loadConfig()).config.node.tags, {}, 'none by default');
});

t.test('hostile node tags are refused with the key named, never published', async (t) => {
  for (const tag of [
    'role',
    '=web',
    'ro le=web',
    '__proto__=x',
    'role=a\u0007b',
    'a=1,a=2',
    `big=${'x'.repeat(129)}`,
  ]) {
    t.match(await refused({ flags: { tag } }), /node\.tags = .*must be key=value pairs/, tag);
  }
  const many = Array.from({ length: 20 }, (_, i) => `key${i}=${'v'.repeat(10)}`).join(',');
  t.match(await refused({ flags: { tag: many } }), /256 bytes at most/, 'more than fits in gossip metadata');
  const file = join(dir, 'b.yaml');
  writeFileSync(file, 'node:\n  tags: [role]\n');
  t.match(await refused({ file }), /node\.tags/, 'a list is not a mapping');
});

t.test('the largest tags still leave room in the metadata limit', async (t) => {
  const tags: Record<string, string> = {};
  for (let i = 0; Buffer.byteLength(JSON.stringify({ ...tags, [`k${i}`]: 'v'.repeat(20) })) <= NODE_TAGS_MAX_BYTES; i++)
    tags[`k${i}`] = 'v'.repeat(20);
  const meta = encodeMeta(
    new Map<string, unknown>([
      ['version', '0.0.0-dev+abcdef'],
      ['store', 65535],
      ['tags', tags],
    ]),
  );
  t.ok(meta.length <= MAX_META_BYTES - 128, `${meta.length} bytes with full tags: room for the user's text`);
});

t.test("a peer's tags: taken when valid, none when anything in them is not", async (t) => {
  const meta = (v: unknown) => Buffer.from(JSON.stringify({ version: 'x', tags: v }));
  t.same(tagsOf(meta({ role: 'web' })), { role: 'web' });
  for (const bad of ['web', ['role'], { role: 1 }, { 'a b': 'x' }, { r: 'x'.repeat(200) }, null])
    t.same(tagsOf(meta(bad)), {}, JSON.stringify(bad));
  t.same(tagsOf(Buffer.from('not json')), {});
  t.same(tagsOf(Buffer.from('{"tags": {"__proto__": "x"}}')), {});
  t.same(tagsOf(undefined), {});
  t.ok(hasNodeTags(meta({ role: 'web', zone: 'a' }), { role: 'web' }));
  t.notOk(hasNodeTags(meta({ role: 'webserver' }), { role: 'web' }), 'exact, not a pattern');
  t.notOk(hasNodeTags(meta({}), { toString: 'x' } as Record<string, string>), 'no inherited keys');
  t.same(parseNodeTagFilter(['role=web', 'zone=']), { role: 'web', zone: '' });
  t.match(parseNodeTagFilter(['role']), /write KEY=VALUE/);
});

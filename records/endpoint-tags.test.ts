// Endpoint tags, meta and instance names in the stored record: bounded, validated by the
// reader, and optional so records written by older nodes still parse.
import t from 'tap';
import { parseEndpointRecord } from './schema.js';
import { MAX_META, MAX_TAGS, metaProblem, tagsProblem } from './endpoint-tags.js';

const base = { service: 'web', addrs: ['10.0.0.1'], ports: {}, health: 'none', vips: [], source: 'api' };

t.test('a record of an older node, without tags, meta or name, still parses and gains none', async (t) => {
  const rec = parseEndpointRecord(base);
  t.ok(rec);
  t.notOk('tags' in rec!);
  t.notOk('meta' in rec!);
  t.notOk('name' in rec!);
});

t.test('tags, meta and name are read back', async (t) => {
  const rec = parseEndpointRecord({
    ...base,
    tags: ['primary', 'v2'],
    meta: { version: '2', 'build.id': 'a-1' },
    name: 'Web_1',
  });
  t.same(rec?.tags, ['primary', 'v2']);
  t.same(rec?.meta, { version: '2', 'build.id': 'a-1' });
  t.equal(rec?.name, 'Web_1');
});

t.test('hostile tags, meta and names make the record unreadable, never a crash', async (t) => {
  const bad: [string, Record<string, unknown>][] = [
    ['tags not a list', { tags: 'primary' }],
    ['an upper-case tag', { tags: ['Primary'] }],
    ['a tag with a dot (would be two labels)', { tags: ['a.b'] }],
    ['a tag too long for a label', { tags: ['a'.repeat(64)] }],
    ['a tag with the reserved "--"', { tags: ['web--1234abcd'] }],
    ['an empty tag', { tags: [''] }],
    ['a tag that is not text', { tags: [7] }],
    ['a repeated tag', { tags: ['a', 'a'] }],
    ['too many tags', { tags: Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`) }],
    ['meta a list', { meta: ['a'] }],
    ['meta key with a space', { meta: { 'a b': 'x' } }],
    ['meta key __proto__', { meta: JSON.parse('{"__proto__": "x"}') as unknown }],
    ['meta value not text', { meta: { a: 1 } }],
    ['meta value too long', { meta: { a: 'x'.repeat(513) } }],
    ['meta value with an escape sequence', { meta: { a: '\x1b[31mred' } }],
    [
      'too many meta pairs',
      { meta: Object.fromEntries(Array.from({ length: MAX_META + 1 }, (_, i) => [`k${i}`, 'v'])) },
    ],
    ['an empty name', { name: '' }],
    ['a name with a space', { name: 'a b' }],
    ['a name too long', { name: 'a'.repeat(129) }],
  ];
  for (const [what, extra] of bad) t.equal(parseEndpointRecord({ ...base, ...extra }), undefined, what);
});

t.test('the problems say what is wrong', async (t) => {
  t.match(tagsProblem(['ok', 'No']), /"No" must be a DNS label/);
  t.match(tagsProblem(Array(MAX_TAGS + 1).fill('a')), /at most 32/);
  t.match(metaProblem({ 'a b': 'x' }), /meta key "a b"/);
  t.equal(tagsProblem(['a', 'b-2']), undefined);
  t.equal(metaProblem({ version: '2' }), undefined);
});

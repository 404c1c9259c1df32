// src/code-cache.ts in fresh processes (V8 keeps compiled scripts in memory, so a second compile
// in one process would never consult the cache): a bundle runs the same with and without its
// cache, V8 takes a cache made from the same source and refuses one that is not, and a refused
// cache costs nothing but the compile. The child uses the build (dist/), as `npm test` makes it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const codeCache = fileURLToPath(new URL('../dist/src/code-cache.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-code-cache-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// A bundle with what the real one has: a shebang, require() of a file beside it and of Node's
// modules, __filename, module.exports, and enough functions for the cache to hold some.
writeFileSync(join(dir, 'dep.cjs'), 'module.exports = 41;\n');
const bundleText = (extra = '') =>
  [
    '#!/usr/bin/env node',
    "const path = require('node:path');",
    "const dep = require('./dep.cjs');",
    ...Array.from({ length: 50 }, (_, i) => `function f${i}(x) { return x + ${i}; }`),
    'module.exports.answer = dep + 1;',
    `process.stdout.write(JSON.stringify({ answer: dep + 1, file: path.basename(__filename), sum: f49(1) }) + '\\n');`,
    extra,
  ].join('\n');

/** Runs `bundle` through compileBundle/runBundle in a new node; `save`: write the cache afterwards. */
function run(bundle: string, cache: string, save = false): { use: string; out: unknown; status: number | null } {
  const child = [
    `const m = await import(${JSON.stringify(codeCache)});`,
    `const { script, use } = m.compileBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cache)});`,
    'process.stderr.write(use);',
    `m.runBundle(script, ${JSON.stringify(bundle)});`,
    save ? `m.saveCodeCache(script, ${JSON.stringify(cache)});` : '',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' });
  return { use: r.stderr, out: r.stdout ? JSON.parse(r.stdout) : undefined, status: r.status };
}

const expected = { answer: 42, file: 'main.cjs', sum: 50 };

t.test('no cache: the bundle runs; its cache is then taken and it runs the same', async (t) => {
  const bundle = join(dir, 'main.cjs');
  const cache = join(dir, 'main.cjs.cache');
  writeFileSync(bundle, bundleText());
  const first = run(bundle, cache, true);
  t.same(first, { use: 'absent', out: expected, status: 0 });
  t.ok(readFileSync(cache).length > 1000, 'the cache holds compiled code');
  t.same(run(bundle, cache), { use: 'used', out: expected, status: 0 });
});

t.test('a cache made from other source is refused, and the bundle runs as usual', async (t) => {
  const bundle = join(dir, 'main.cjs');
  const cache = join(dir, 'stale.cache');
  // V8 tells sources apart by length: the cache of an older bundle that differs in it.
  writeFileSync(join(dir, 'other.cjs'), bundleText('// one more line, so the source differs'));
  t.equal(run(join(dir, 'other.cjs'), cache, true).status, 0);
  writeFileSync(bundle, bundleText());
  t.same(run(bundle, cache), { use: 'rejected', out: expected, status: 0 });
});

t.test('a cut-off cache is refused, and the bundle runs as usual', async (t) => {
  const bundle = join(dir, 'main.cjs');
  const cache = join(dir, 'cut.cache');
  writeFileSync(bundle, bundleText());
  run(bundle, cache, true);
  writeFileSync(cache, readFileSync(cache).subarray(0, 100));
  t.same(run(bundle, cache), { use: 'rejected', out: expected, status: 0 });
});

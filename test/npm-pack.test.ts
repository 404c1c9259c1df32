// `npm pack` ships only what runs (issue 15): no tests, fixtures, benches, properties or
// source maps, and every module it ships finds the modules it imports in the same tarball.
// Needs dist/ (npm test's pretest builds it).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

function packedFiles(): string[] {
  // --ignore-scripts: `prepare` would rebuild dist/ under the suite's feet.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}

/** The relative specifiers of static and dynamic imports in compiled JavaScript. */
export function relativeImports(js: string): string[] {
  return [...js.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
}

t.test('the finder sees static, dynamic and bare imports', async (t) => {
  t.same(
    relativeImports(
      `import { a } from './a.js';\nconst b = await import('../b.js');\nimport './c.js';\nimport x from 'pino';`,
    ),
    ['./a.js', '../b.js', './c.js'],
  );
});

t.test('npm pack ships the runtime and nothing of the tests', async (t) => {
  const files = packedFiles();
  const set = new Set(files);
  t.ok(set.has('dist/src/cli.js'), 'the CLI (package.json bin)');
  t.ok(set.has('LICENSE') && set.has('README.md'));
  const leaked = files.filter((f) =>
    /\.(test|fixture|bench)\.js$|\.map$|^dist\/(bench|props|test)\/|test-harness|arbitraries|^(?!dist\/|LICENSE$|README\.md$|package\.json$)/.test(
      f,
    ),
  );
  t.same(leaked, [], 'no tests, fixtures, benches, properties, maps or sources');
  const unresolved: string[] = [];
  for (const f of files.filter((x) => x.endsWith('.js'))) {
    for (const spec of relativeImports(readFileSync(join(repo, f), 'utf8'))) {
      const target = normalize(join(dirname(f), spec));
      if (!set.has(target)) unresolved.push(`${f} imports ${spec}`);
    }
  }
  t.same(unresolved, [], 'every shipped module finds what it imports in the tarball');
});

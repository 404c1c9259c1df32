// `npm run lint` as part of the suite, so CI checks it: eslint (function length, nesting
// depth, no floating promises: eslint.config.js) and prettier's format (.prettierrc.json).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (pkg: string, path: string) => join(root, 'node_modules', pkg, path);

function run(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: (r.stdout + r.stderr).split('\n').slice(0, 40).join('\n') };
}

t.test('eslint finds nothing', async (t) => {
  const { code, out } = run([bin('eslint', 'bin/eslint.js'), '.']);
  t.equal(code, 0, `npx eslint . (fix these, or split the function):\n${out}`);
});

t.test('the tree is formatted by prettier', async (t) => {
  const { code, out } = run([bin('prettier', 'bin/prettier.cjs'), '--check', '.']);
  t.equal(code, 0, `npm run format writes the fixes:\n${out}`);
});

// eslint and prettier as part of the suite, so CI checks them: function length, nesting depth
// and no floating promises (eslint.config.js), and the one format (.prettierrc.json).
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

t.test('prettier finds nothing to reformat', async (t) => {
  const { code, out } = run([bin('prettier', 'bin/prettier.cjs'), '--check', '.']);
  t.equal(code, 0, `npx prettier --check . (run npx prettier --write on these files):\n${out}`);
});

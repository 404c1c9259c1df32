// The dashboard (src/ui/, issue 16): type-checks it against the DOM (its own tsconfig, apart
// from the Node build) and bundles it with esbuild into static files in dist/ui/, which the
// agent serves at /ui/ (src/ui-routes.ts). Run by `npm run build` after tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(repo, 'src/ui');
const out = join(repo, 'dist/ui');

if (!process.argv.includes('--no-check')) {
  try {
    execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', src], { stdio: 'inherit' });
  } catch {
    console.error('build-ui: the dashboard (src/ui) does not type-check; see above');
    process.exit(1);
  }
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'main.tsx')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(src, f), join(out, f));

// The CLI and agent bundled by esbuild into one ES module: what the package ships
// (scripts/package.mjs) and what `npm run bench -- startup` times beside dist/.
// Run: node scripts/bundle.mjs <outfile>   (after tsc; reads dist/src/cli.js)
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function bundleCli(outfile) {
  await build({
    entryPoints: [join(repo, 'dist/src/cli.js')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Automerge stays a package (see scripts/package.mjs); native add-ons are optional to their
    // users (msgpackr, ssh2 via dockerode), which fall back to JavaScript when they are absent.
    // dockerode and the optional components stay lazy in the bundle: esbuild keeps a dynamic
    // import() as a deferred initialiser, so a node without Docker never evaluates it.
    external: ['@automerge/automerge', '*.node', 'cpu-features', 'msgpackr-extract'],
    // Bundled CommonJS dependencies use require() and __dirname (ssh2's emscripten code, via
    // dockerode); an ES module has neither of its own.
    banner: {
      js: [
        "import { createRequire as weftCreateRequire } from 'node:module';",
        "import { dirname as weftDirname } from 'node:path';",
        "import { fileURLToPath as weftFileURLToPath } from 'node:url';",
        'const require = weftCreateRequire(import.meta.url);',
        'const __filename = weftFileURLToPath(import.meta.url);',
        'const __dirname = weftDirname(__filename);',
      ].join(' '),
    },
    logLevel: 'warning',
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv[2]) {
    console.error('usage: node scripts/bundle.mjs <outfile>');
    process.exit(2);
  }
  await bundleCli(resolve(process.argv[2]));
}

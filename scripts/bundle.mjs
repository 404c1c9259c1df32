// The CLI and agent bundled by esbuild: what the package ships (scripts/package.mjs) and what
// `npm run bench -- startup` times beside dist/. Into one folder:
//   weft.cjs            the command: src/launcher.ts, which runs weft-main.cjs with its code cache
//   weft-main.cjs       the CLI and agent (dist/src/cli.js), one CommonJS script: V8 can cache
//                       the compiled code of a script, and Node 20 cannot for an ES module
//   weft-main.cjs.cache that code cache (makeCodeCache), made by the Node the package ships
//   worker.js, proxy-worker.js  the DNS worker and the userspace proxy's acceptors, which
//                       dns/worker-pool.ts and lb/proxy-pool.ts start from beside the bundle
// Run: node scripts/bundle.mjs <folder>   (after tsc; reads dist/)
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Modules the package leaves out, each replaced by a stand-in:
 * - msgpackr-extract, an optional native add-on: a module that throws, so that its user falls
 *   back to JavaScript at once, as on a host, instead of searching node_modules folders up to
 *   the root (and finding the build machine's copy: the startup bench's bundle loaded its
 *   add-on from the repository, ~20 ms that no host pays);
 * - prom-client's Pushgateway, which weft never uses: a class that throws when made. Its
 *   module loads https, tls and zlib at prom-client's top, Node modules a default agent does
 *   not otherwise load before it is ready (~3 ms of each start compiling them).
 */
const LEFT_OUT = [
  {
    name: 'msgpackr-extract',
    importer: /./,
    contents: "throw new Error('msgpackr-extract is not part of the package');",
  },
  {
    name: './lib/pushgateway',
    importer: /[\\/]prom-client[\\/]/,
    contents:
      "module.exports = class Pushgateway { constructor() { throw new Error('the Pushgateway is not part of the package'); } };",
  },
];

const leftOut = {
  name: 'left-out',
  setup(b) {
    for (const [i, m] of LEFT_OUT.entries()) {
      const filter = new RegExp(`^${m.name.replace(/[./]/g, '\\$&')}$`);
      b.onResolve({ filter }, (args) =>
        m.importer.test(args.importer) ? { path: String(i), namespace: 'left-out' } : undefined,
      );
    }
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({ contents: LEFT_OUT[Number(args.path)].contents }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Automerge's wasm bindings are loaded by path from the package (crdt-store/automerge.ts);
  // native add-ons are optional to their users (msgpackr, ssh2 via dockerode), which fall back
  // to JavaScript when they are absent. dockerode and the optional components stay lazy in the
  // bundle: esbuild keeps a dynamic import() as a deferred initialiser, so a node without
  // Docker never evaluates it.
  external: ['@automerge/automerge', '*.node', 'cpu-features'],
  plugins: [leftOut],
  // Names are kept (logs and errors name functions); whitespace and syntax are not: the
  // source is what V8 reads and hashes on every start, 2.5 MB instead of 4.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/** CommonJS: a module's own URL is its file's, and dynamic imports of Node's modules are require()s. */
const asCommonJs = {
  format: 'cjs',
  define: { 'import.meta.url': 'weftModuleUrl' },
  banner: { js: "const weftModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // A vm.Script (src/code-cache.ts) has no loader for import(); esbuild turns import('node:x') into require.
  supported: { 'dynamic-import': false },
};

/** ES modules (the workers, forked as .js files of a "type": "module" package). */
const asEsm = {
  format: 'esm',
  // Bundled CommonJS dependencies use require() and __dirname; an ES module has neither of its own.
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
};

export async function bundleCli(outDir) {
  const dist = (p) => join(repo, 'dist', p);
  // V8 tells a cache's source only by its length: an older bundle's cache must not outlive it.
  rmSync(join(outDir, 'weft-main.cjs.cache'), { force: true });
  await build({ ...common, ...asCommonJs, entryPoints: [dist('src/launcher.js')], outfile: join(outDir, 'weft.cjs') });
  await build({ ...common, ...asCommonJs, entryPoints: [dist('src/cli.js')], outfile: join(outDir, 'weft-main.cjs') });
  await build({ ...common, ...asEsm, entryPoints: [dist('dns/worker.js')], outfile: join(outDir, 'worker.js') });
  await build({
    ...common,
    ...asEsm,
    entryPoints: [dist('lb/proxy-worker.js')],
    outfile: join(outDir, 'proxy-worker.js'),
  });
}

/**
 * Makes weft-main.cjs's code cache: runs the bundled agent once with `node` and the agent's
 * V8 flags (V8 refuses a cache made under other flags) on loopback, ports 0, no Docker, no
 * data dir and the userspace LB (nothing of the host's is touched), stops it once ready, and
 * the launcher writes what V8 compiled on the way out. Resolves to the cache's path.
 */
export function makeCodeCache(outDir, node, flags) {
  const args = [
    ...flags,
    join(outDir, 'weft.cjs'),
    'agent',
    ...['--node', 'code-cache', '--bind', '127.0.0.1', '--bind-port', '0', '--api-port', '0', '--store-port', '0'],
    ...['--dns-listen', '127.0.0.1:0', '--docker', 'false', '--lb-datapath', 'userspace', '--log-format', 'json'],
  ];
  const env = { ...process.env, WEFT_CODE_CACHE_WRITE: '1', WEFT_CONFIG: '' };
  return new Promise((ok, fail) => {
    const p = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let stopped = false;
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.stdout.on('data', (d) => {
      out += d;
      if (!stopped && out.includes('weft agent ready')) stopped = p.kill('SIGTERM');
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const cache = join(outDir, 'weft-main.cjs.cache');
      if (out.includes('weft agent ready') && existsSync(cache)) ok(cache);
      else {
        const last = (err.trim() || out.trim()).split('\n').at(-1);
        fail(new Error(`code cache not made: the bundled agent exited with ${signal ?? code} (${last})`));
      }
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv[2]) {
    console.error('usage: node scripts/bundle.mjs <folder>');
    process.exit(2);
  }
  const out = resolve(process.argv[2]);
  await bundleCli(out);
  const { AGENT_NODE_FLAGS } = await import(join(repo, 'dist/src/node-flags.js'));
  console.log(await makeCodeCache(out, process.execPath, AGENT_NODE_FLAGS));
}

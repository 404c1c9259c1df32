// A TypeScript loader for mutation runs only (stryker.config.mjs). Stryker's tap runner starts
// one node process per test file per mutant, and every start under tap's loader (ts-node)
// transpiles every .ts again. The instrumented sources do not change between mutants (the
// active mutant is chosen by an environment variable), so this loader transpiles each source
// once and reads it from a cache, keyed by the source's hash, after that.
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Imported by --import in the main thread: install the hooks (this same file) in the loader thread.
if (isMainThread) register(import.meta.url);

const cacheDir = join(tmpdir(), `weft-mutation-ts-${process.getuid?.() ?? 0}`);
let ts;

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    // Sources import each other as './x.js' (NodeNext); the file on disk is x.ts.
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !/^\.{1,2}\/.*\.js$/.test(specifier)) throw err;
    return next(specifier.replace(/\.js$/, '.ts'), context);
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const file = fileURLToPath(url);
  const source = readFileSync(file, 'utf8');
  const key = createHash('sha256').update(file).update('\0').update(source).digest('hex');
  const cached = join(cacheDir, `${key}.mjs`);
  try {
    return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
  } catch {
    ts ??= (await import('typescript')).default;
    const out = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        inlineSourceMap: true,
        inlineSources: false,
      },
    }).outputText;
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${cached}.${process.pid}`;
    writeFileSync(partial, out);
    renameSync(partial, cached);
    return { format: 'module', source: out, shortCircuit: true };
  }
}

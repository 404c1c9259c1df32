// Runs a CommonJS bundle with V8's code cache: the packaged `weft` (src/launcher.ts).
//
// Compiling the 2.5 MB bundle was a quarter of every start of the packaged agent (~80 ms of
// ~350 ms CPU to ready), and Node 20 has no compile cache for modules. V8 can take the
// compiled code of a script as `cachedData` instead, and skip both the compile and the lazy
// compiles of every function the cache holds. The cache is made once, when the package is
// built (scripts/bundle.mjs), by the very Node the package ships and with the agent's V8
// flags. V8 checks that it matches the source's length, its own version and the flags, and
// refuses one that does not (the bundle is then compiled as usual); it does not check the
// payload. So the cache is code: it is never written at run time, and lives beside the
// bundle, as read-only and as trusted as the bundle itself.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Module, createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** What became of the cache: V8 took it, refused it (compiled as usual), or there was none. */
export type CacheUse = 'used' | 'rejected' | 'absent';

/** Compiles `file` (a CommonJS module) with the cache at `cacheFile` if there is one. */
export function compileBundle(file: string, cacheFile: string): { script: Script; use: CacheUse } {
  const text = readFileSync(file, 'utf8');
  // A shebang is not JavaScript inside the module wrapper; `//` keeps every offset.
  const source = text.startsWith('#!') ? `//${text.slice(2)}` : text;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache: compiled as usual.
  }
  const script = new Script(Module.wrap(source), { filename: file, cachedData });
  const use: CacheUse = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used';
  return { script, use };
}

/** Runs a compiled bundle as the module `file`, with its own `require`. */
export function runBundle(script: Script, file: string): void {
  const mod = new Module(file);
  mod.filename = file;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
}

/**
 * Writes the script's code cache: everything V8 has compiled of it so far, so after a run it
 * holds the functions that run used, not only the top level. Written whole or not at all.
 */
export function saveCodeCache(script: Script, cacheFile: string): number {
  const data = script.createCachedData();
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, cacheFile);
  return data.length;
}

// The packaged `weft` (dist/weft.cjs): runs the CLI and agent bundle beside it
// (dist/weft-main.cjs) with the code cache made when the package was built (src/code-cache.ts).
//   WEFT_CODE_CACHE_DEBUG=1  says on stderr whether the cache was used, refused or absent;
//   WEFT_CODE_CACHE_WRITE=1  writes the cache when the process exits (the package build does
//                            this once, around a short run of the agent).
import { fileURLToPath } from 'node:url';
import { compileBundle, runBundle, saveCodeCache } from './code-cache.js';

const bundle = fileURLToPath(new URL('./weft-main.cjs', import.meta.url));
const cacheFile = `${bundle}.cache`;
const { script, use } = compileBundle(bundle, cacheFile);
if (process.env.WEFT_CODE_CACHE_DEBUG === '1') process.stderr.write(`weft: code cache ${use} (${cacheFile})\n`);
if (process.env.WEFT_CODE_CACHE_WRITE === '1') {
  process.once('exit', () => {
    const bytes = saveCodeCache(script, cacheFile);
    process.stderr.write(`weft: code cache written, ${bytes} bytes (${cacheFile})\n`);
  });
}
runBundle(script, bundle);

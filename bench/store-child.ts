// Child process of the store benchmark, so memory is measured in a fresh process:
//   store-child.js rss <dataDir> <name>     open the store in dataDir, print its RSS
//   store-child.js churn <keys> <total> <early>
import { openStore } from '../crdt-store/persist/open.js';
import { StoreCore } from '../crdt-store/replication/core.js';
import { Xoshiro128 } from '../base/rng.js';
import { measureChurn } from './store-local.js';

const [mode, ...args] = process.argv.slice(2);
const gc = () => (globalThis as { gc?: () => void }).gc?.();

if (mode === 'rss') {
  const [dir, name] = args;
  gc();
  const before = process.memoryUsage().rss;
  const opened = openStore(dir!, { name: name!, clock: () => performance.timeOrigin + performance.now() });
  const core = new StoreCore({ store: opened.store, rng: new Xoshiro128(1), now: 0 });
  gc();
  const mem = process.memoryUsage();
  const stats = opened.store.stats();
  console.log(
    JSON.stringify({
      rss_mb: mem.rss / 1e6,
      rss_before_mb: before / 1e6,
      heap_total_mb: mem.heapTotal / 1e6,
      heap_mb: mem.heapUsed / 1e6,
      external_mb: (mem.external + mem.arrayBuffers) / 1e6,
      docs: stats.docs,
      records: stats.records,
      digest: core.stats().digestDocs,
    }),
  );
  opened.close();
} else if (mode === 'churn') {
  const [keys, total, early] = args.map(Number);
  console.log(JSON.stringify(measureChurn((l) => console.error(`  ${l}`), keys, total, early)));
} else {
  console.error('usage: store-child.js rss <dir> <name> | churn <keys> <total> <early>');
  process.exit(2);
}

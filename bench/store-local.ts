// Local figures of the store: updates per second (one key per update, and batched), and
// memory and disk under churn (K keys updated U times in total, against the same keys
// after U0 updates). Runs on a real data directory, non-durable writes (the journal
// buffers and writes, as the daemon does; durable writes are measured apart).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../crdt-store/persist/open.js';

const clock = () => performance.timeOrigin + performance.now();

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}

function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1e6;
}

export interface UpdateRates {
  single_per_s: number;
  batched_per_s: number;
  durable_per_s: number;
  batch_size: number;
}

export function measureUpdateRates(log: (l: string) => void, seconds = 3): UpdateRates {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-store-'));
  try {
    const s = openStore(dir, { name: 'bench', clock });
    const rate = (fn: (i: number) => number): number => {
      let done = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) done += fn(done);
      s.journal.flush();
      return Math.round(done / ((performance.now() - t0) / 1000));
    };
    // Warm-up (JIT, wasm), then one update per key per call.
    rate((i) => (s.store.put(`svc/web/node-1/c${i % 30}`, { addr: '10.0.0.1', port: 8000 + (i % 1000) }), 1));
    const single = rate(
      (i) => (s.store.put(`svc/web/node-1/c${i % 1000}`, { addr: '10.0.0.1', port: 8000 + (i % 977), i }), 1),
    );
    log(`single-key updates: ${single}/s`);
    const batch = 100;
    const batched = rate((i) => {
      s.store.batch(() => {
        for (let j = 0; j < batch; j++)
          s.store.put(`svc/web/node-1/c${(i + j) % 1000}`, { addr: '10.0.0.1', port: 8000 + j, i });
      });
      return batch;
    });
    log(`batched updates (${batch} keys per batch): ${batched}/s`);
    const durable = rate((i) => (s.store.put(`svc/durable/${i % 100}`, i, { durable: true }), 1));
    log(`durable updates (fsync each): ${durable}/s`);
    s.close();
    return { single_per_s: single, batched_per_s: batched, durable_per_s: durable, batch_size: batch };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ChurnResult {
  keys: number;
  early_updates: number;
  total_updates: number;
  rss_early_mb: number;
  rss_late_mb: number;
  disk_early_bytes: number;
  disk_late_bytes: number;
  churn_rss_ratio: number;
  churn_disk_ratio: number;
  wall_s: number;
}

export function measureChurn(log: (l: string) => void, keys = 1000, total = 1_000_000, early = 10_000): ChurnResult {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-churn-'));
  const t0 = performance.now();
  try {
    const s = openStore(dir, { name: 'bench', clock });
    const write = (i: number) =>
      s.store.put(`svc/app/c${i % keys}`, {
        addr: `10.1.${(i >> 8) & 255}.${i & 255}`,
        port: 1024 + (i % 50000),
        gen: i,
      });
    let i = 0;
    for (; i < early; i++) write(i);
    s.journal.flush();
    const rssEarly = rssMb();
    const diskEarly = dirBytes(dir);
    log(`churn: after ${early} updates of ${keys} keys: rss ${rssEarly.toFixed(1)} MB, data dir ${diskEarly} B`);
    let next = early * 10;
    for (; i < total; i++) {
      write(i);
      if (i + 1 === next) {
        s.journal.flush();
        log(
          `churn: after ${next} updates: rss ${rssMb().toFixed(1)} MB, data dir ${dirBytes(dir)} B (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
        next *= 10;
      }
    }
    s.journal.flush();
    const rssLate = rssMb();
    const diskLate = dirBytes(dir);
    log(`churn: after ${total} updates: rss ${rssLate.toFixed(1)} MB, data dir ${diskLate} B`);
    s.close();
    return {
      keys,
      early_updates: early,
      total_updates: total,
      rss_early_mb: +rssEarly.toFixed(1),
      rss_late_mb: +rssLate.toFixed(1),
      disk_early_bytes: diskEarly,
      disk_late_bytes: diskLate,
      churn_rss_ratio: +(rssLate / rssEarly).toFixed(2),
      churn_disk_ratio: +(diskLate / diskEarly).toFixed(2),
      wall_s: +((performance.now() - t0) / 1000).toFixed(1),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// One agent's memory holding the store of a large cluster: a data directory is prepared
// with every node's own document (its epoch's first change, `perNode` endpoint records),
// exactly as that agent would have received and persisted them, then a fresh process
// opens it (LocalStore, journal, replication core) and reports its RSS. An empty store
// in a fresh process is measured too: the runtime's own share.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsStoreFiles } from '../crdt-store/persist/files.js';
import { Journal } from '../crdt-store/persist/journal.js';
import { ReplicaDoc } from '../crdt-store/replica-doc.js';
import { canonicalJson, DEFAULT_VALUE_LIMITS } from '../crdt-store/json-value.js';
import { actorId, ownDocId } from '../crdt-store/names.js';
import { AGENT_NODE_FLAGS, agentEnv } from '../src/node-flags.js';

const child = fileURLToPath(new URL('./store-child.js', import.meta.url));

export interface RssResult {
  nodes: number;
  per_node: number;
  rss_mb: number;
  /** The same with Node's default flags (the headline figure uses the agent's, src/node-flags.ts). */
  rss_default_flags_mb: number;
  empty_rss_mb: number;
  data_dir_bytes: number;
}

function childRss(
  dir: string,
  name: string,
  flags: string[] = [],
): { rss_mb: number; heap_total_mb: number; heap_mb: number; external_mb: number; docs: number; records: number } {
  const r = spawnSync(process.execPath, ['--expose-gc', ...flags, child, 'rss', dir, name], {
    encoding: 'utf8',
    env: agentEnv(),
  });
  if (r.status !== 0) throw new Error(`rss child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Writes, as node-0's data directory, every node's own document with `perNode` endpoint records; returns the snapshot's bytes. */
export function prepareClusterDir(dir: string, nodes: number, perNode: number): number {
  const journal = new Journal(new FsStoreFiles(dir), { name: 'node-0' });
  const docs: { docId: string; epoch: number; bytes: Uint8Array }[] = [];
  const epoch = Date.now();
  for (let n = 0; n < nodes; n++) {
    const name = `node-${n}`;
    const doc = ReplicaDoc.create(
      ownDocId(name),
      { kind: 'own', owner: name },
      epoch,
      actorId(name, epoch),
      DEFAULT_VALUE_LIMITS,
    );
    for (let e = 0; e < perNode; e++) {
      doc.put(
        `svc/app-${e}/${name}/c${e}`,
        canonicalJson({
          addr: `10.${n >> 8}.${n & 255}.${e + 2}`,
          port: 8000 + e,
          proto: 'tcp',
          container: `c${e}-${name}`,
          labels: { service: `app-${e}` },
        }),
      );
    }
    doc.commit(true);
    docs.push({ docId: doc.id, epoch, bytes: doc.save() });
    doc.free();
  }
  journal.compact(docs);
  journal.close();
  return journal.stats().snapshotBytes;
}

export function measureClusterRss(nodes: number, perNode: number, log: (l: string) => void): RssResult {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-rss-'));
  const empty = mkdtempSync(join(tmpdir(), 'weft-bench-rss0-'));
  try {
    const bytes = prepareClusterDir(dir, nodes, perNode);
    const full = childRss(dir, 'node-0', [...AGENT_NODE_FLAGS]);
    const base = childRss(empty, 'node-0', [...AGENT_NODE_FLAGS]);
    const defaults = childRss(dir, 'node-0');
    log(
      `${nodes} nodes x ${perNode} records: ${full.docs} documents, ${full.records} records, rss ${full.rss_mb.toFixed(1)} MB (JS heap ${full.heap_mb.toFixed(1)} MB used of ${full.heap_total_mb.toFixed(1)} MB, wasm+buffers ${full.external_mb.toFixed(1)} MB; empty store: rss ${base.rss_mb.toFixed(1)} MB, heap ${base.heap_mb.toFixed(1)}, wasm+buffers ${base.external_mb.toFixed(1)}), snapshot ${bytes} B`,
    );
    return {
      nodes,
      per_node: perNode,
      rss_mb: +full.rss_mb.toFixed(1),
      rss_default_flags_mb: +defaults.rss_mb.toFixed(1),
      empty_rss_mb: +base.rss_mb.toFixed(1),
      data_dir_bytes: bytes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  }
}

export function measureChurnInChild(
  keys: number,
  total: number,
  early: number,
): import('./store-local.js').ChurnResult {
  const r = spawnSync(process.execPath, ['--expose-gc', child, 'churn', String(keys), String(total), String(early)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error('churn child failed');
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

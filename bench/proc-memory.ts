// A process's resident memory from /proc/<pid>/status, for the benches that report RSS.
// RSS counts the pages of the node binary and its libraries that the process touched
// (file-backed: shared with every other Node process and reclaimable) beside its own
// anonymous memory (heaps, wasm code and memory, thread stacks); the two are reported
// apart, since only the second grows with what the agent holds.
import { readFileSync } from 'node:fs';

export interface ResidentMb {
  rss: number;
  /** Anonymous: the process's own memory. */
  anon: number;
  /** File-backed: the binary's and libraries' pages. */
  file: number;
}

export function residentMb(pid: number): ResidentMb {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

// CPU affinity for the benches that run a load generator on the same host as the server it
// measures: the server's process tree on one CPU, the generator on another, as a client on
// another host would be. With both free to run anywhere, a latency tail partly measures
// where the scheduler put the two (a server woken behind the generator on the same core
// waits out its time slice), not the server.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { missingCommands } from './_env.js';
import { processTree } from './proc-cpu.js';

/** The CPUs to split, or why not: one CPU, or no taskset (util-linux). */
export function affinitySplit(): { server: number; generator: number } | { absent: string } {
  if (availableParallelism() < 2) return { absent: 'one CPU' };
  if (missingCommands(['taskset']).length) return { absent: 'taskset (util-linux)' };
  return { server: availableParallelism() - 1, generator: 0 };
}

/**
 * Runs every thread of `pid`'s tree on `cpus` (a taskset list, "1" or "0-3"); processes it
 * starts later inherit it. Returns how to give them every CPU back.
 */
export function pinTree(pid: number, cpus: string): () => void {
  const set = (list: string) => {
    for (const p of processTree(pid)) {
      try {
        execFileSync('taskset', ['-a', '-p', '-c', list, String(p)], { stdio: 'ignore' });
      } catch {
        // it exited meanwhile
      }
    }
  };
  set(cpus);
  return () => set(`0-${availableParallelism() - 1}`);
}

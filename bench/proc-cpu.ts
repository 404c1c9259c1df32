// A process's CPU time from /proc, for the benches that report it: utime + stime in ms
// (clock ticks of 10 ms; USER_HZ is 100 on Linux). Less at the mercy of the host's load
// than wall time.
import { readFileSync } from 'node:fs';

/** utime + stime of one process, in ms (its threads included). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // fields 14 and 15
}

/** cpuMs of a process and its descendants (worker processes); 0 for one that has exited. */
export function treeCpuMs(pid: number): number {
  let ms = 0;
  try {
    ms = cpuMs(pid);
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' '))
      if (c) ms += treeCpuMs(Number(c));
  } catch {
    // it exited
  }
  return ms;
}

// A process's CPU time from /proc, for the benches that report it: utime and stime in ms
// (clock ticks of 10 ms; USER_HZ is 100 on Linux). Less at the mercy of the host's load
// than wall time. Kept apart, they say whether a cost is the program's (user) or the
// kernel's work for it (system: syscalls, and on loopback the receiver's delivery too).
import { readFileSync } from 'node:fs';

export interface CpuSplit {
  user: number;
  system: number;
}

/** utime and stime of one process, in ms (its threads included). */
export function cpuSplitMs(pid: number): CpuSplit {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 }; // fields 14 and 15
}

/** utime + stime of one process, in ms (its threads included). */
export function cpuMs(pid: number): number {
  const s = cpuSplitMs(pid);
  return s.user + s.system;
}

/** A process and its descendants (worker processes), parents first; none for one that has exited. */
export function processTree(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
    return [pid, ...children.flatMap((c) => processTree(Number(c)))];
  } catch {
    return []; // it exited
  }
}

/** cpuSplitMs of a process and its descendants (worker processes); 0 for one that has exited. */
export function treeCpuSplitMs(pid: number): CpuSplit {
  const sum = { user: 0, system: 0 };
  for (const p of processTree(pid)) {
    try {
      const own = cpuSplitMs(p);
      sum.user += own.user;
      sum.system += own.system;
    } catch {
      // it exited since
    }
  }
  return sum;
}

/** treeCpuSplitMs, user and system together. */
export function treeCpuMs(pid: number): number {
  const s = treeCpuSplitMs(pid);
  return s.user + s.system;
}

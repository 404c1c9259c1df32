// What a test process makes outside itself (network namespaces, private dockerd directories
// and their bridges, agent processes), written down one line each in a ledger file named for
// the process. Teardown removes these as usual; the ledger is for a run killed before its
// teardown could: the next suite run (scripts/test.mjs) calls sweepLeftovers(), which undoes
// the ledgers of processes that are gone. A stale bridge still holding a test subnet, or a
// namespace still running an agent, otherwise breaks the next run's tests.
//
// Only what a ledger names is touched, and only when its owner is dead: a suite running
// beside another one (or an operator's own namespaces and bridges) is left alone.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LeftoverKind = 'netns' | 'docker' | 'bridge' | 'pid';

const LEDGER_DIR = process.env.WEFT_LEDGER_DIR ?? join(tmpdir(), 'weft-test-ledger');

/** The process's start time in clock ticks since boot: with the pid, it names one process even after pid reuse. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let ledger: string | undefined;

/** Notes that this process made `kind` (a namespace name, a docker directory, a bridge, or a pid). */
export function ownLeftover(kind: LeftoverKind, id: string | number): void {
  const fields = kind === 'pid' ? `${id} ${startTime(Number(id)) ?? ''}` : String(id);
  try {
    if (!ledger) {
      mkdirSync(LEDGER_DIR, { recursive: true });
      ledger = join(LEDGER_DIR, `${process.pid}-${startTime(process.pid)}`);
      const mine = ledger;
      // A process that ends normally ran its teardowns: its ledger has nothing left to undo.
      process.on('exit', () => rmSync(mine, { force: true }));
    }
    appendFileSync(ledger, `${kind} ${fields}\n`);
  } catch {
    // A ledger that cannot be written loses only the sweep after a killed run.
  }
}

/** Processes whose command line names `dir`, with all their descendants (what a killed dockerd leaves: containerd, shims, containers). */
export function processesUnder(dir: string): number[] {
  const parent = new Map<number, number>();
  const roots: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) roots.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  const out = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, pp] of parent) {
      if (!out.has(pid) && out.has(pp)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return [...out];
}

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((p): p is string => typeof p === 'string' && (p === dir || p.startsWith(dir + '/')))
      .sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

function kill(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function quietly(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return '';
  }
}

/** A private dockerd's directory, undone: its processes killed, its mounts unmounted, the directory deleted. */
export function removeDockerDir(dir: string): void {
  kill(processesUnder(dir));
  for (const m of mountsUnder(dir)) quietly('umount', ['-l', m]);
  rmSync(dir, { recursive: true, force: true });
}

const undo: Record<LeftoverKind, (fields: string[]) => string | undefined> = {
  pid: ([pid, start]) => {
    if (!pid || !start || startTime(Number(pid)) !== start) return undefined;
    kill([Number(pid)]);
    return `process ${pid}`;
  },
  netns: ([name]) => {
    if (!name || !existsSync(`/run/netns/${name}`)) return undefined;
    // Processes keep a namespace alive after its name is deleted: end them first.
    kill(quietly('ip', ['netns', 'pids', name]).split('\n').filter(Boolean).map(Number));
    quietly('ip', ['netns', 'del', name]);
    return `namespace ${name}`;
  },
  docker: ([dir]) => {
    if (!dir || !existsSync(dir)) return undefined;
    removeDockerDir(dir);
    return `dockerd directory ${dir}`;
  },
  bridge: ([name]) => {
    if (!name || !existsSync(`/sys/class/net/${name}`)) return undefined;
    quietly('ip', ['link', 'del', name]);
    return `bridge ${name}`;
  },
};

// Processes before the namespaces and directories they hold; bridges once their dockerd is gone.
const ORDER: LeftoverKind[] = ['pid', 'docker', 'netns', 'bridge'];

/** Undoes the ledgers of test processes that are gone; returns what it removed. */
export function sweepLeftovers(dir = LEDGER_DIR): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const file of files) {
    const [pid, start] = file.split('-');
    if (pid && start && startTime(Number(pid)) === start) continue; // still running
    const entries = readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '));
    for (const kind of ORDER)
      for (const [k, ...fields] of entries) {
        const what = k === kind ? undo[kind](fields) : undefined;
        if (what) removed.push(what);
      }
    unlinkSync(join(dir, file));
  }
  return removed;
}

// `node dist/test/helpers/leftovers.js sweep`: what `npm test` runs first (scripts/test.mjs).
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'sweep') {
  const removed = sweepLeftovers();
  if (removed.length) console.log(`# removed what an interrupted run left: ${removed.join(', ')}`);
}

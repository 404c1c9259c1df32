import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { affinitySplit, pinTree } from './cpu-affinity.js';
import { processTree } from './proc-cpu.js';

const allowed = (pid: number) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];

const split = affinitySplit();
/** Why the tests cannot run here, or false. */
const skip = 'absent' in split ? `needs two CPUs and taskset: ${split.absent}` : false;
const server = 'absent' in split ? 0 : split.server;

t.test('a process tree is pinned to one CPU, its children with it, then given every CPU back', { skip }, async (t) => {
  // A shell with a child of its own, as the DNS server has its worker.
  const parent = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
  t.teardown(() => {
    parent.kill('SIGKILL');
  });
  const pid = parent.pid!;
  let child: number | undefined;
  for (let i = 0; i < 100 && !child; i++) {
    child = processTree(pid)[1];
    if (!child) await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(child, 'the shell started its child');
  const every = allowed(pid);

  const unpin = pinTree(pid, String(server));
  t.equal(allowed(pid), String(server));
  t.equal(allowed(child!), String(server), 'the child is pinned too');

  unpin();
  t.equal(allowed(pid), every);
  t.equal(allowed(child!), every);
});

t.test('a process that has exited is passed over', { skip }, async (t) => {
  const p = spawn('true');
  await new Promise((r) => p.on('exit', r));
  t.doesNotThrow(() => pinTree(p.pid!, '0')());
});

// A write acknowledged as durable survives kill -9 at any moment: a child process writes
// and acknowledges as fast as it can, is killed at a random point, and every write it
// acknowledged must be there after a restart (three rounds on one data directory, so
// restarts over torn tails and compactions are covered too).
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStore } from './open.js';

const fixture = fileURLToPath(new URL('./durable-writer.fixture.ts', import.meta.url));

function runAndKill(dir: string, start: number, killAfterAcks: number): Promise<{ acked: number[]; epoch: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fixture, dir, 'n1', String(start)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: number[] = [];
    let epoch = 0;
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [what, n] = line.split(' ');
        if (what === 'epoch') epoch = Number(n);
        if (what === 'ack') acked.push(Number(n));
        if (acked.length === killAfterAcks) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) =>
      signal === 'SIGKILL'
        ? resolve({ acked, epoch })
        : reject(new Error(`writer exited without being killed (${signal})`)),
    );
  });
}

t.test('acknowledged durable writes survive kill -9', async (t) => {
  const dir = t.testdir();
  let start = 0;
  let lastEpoch = 0;
  const all: number[] = [];
  for (let round = 0; round < 3; round++) {
    const { acked, epoch } = await runAndKill(dir, start, 50 + Math.floor(Math.random() * 150));
    t.ok(epoch > lastEpoch, `round ${round}: epoch ${epoch} rose`);
    lastEpoch = epoch;
    all.push(...acked);
    start = acked[acked.length - 1] + 1;
    const check = openStore(dir, { name: 'n1', clock: () => 0 });
    t.ok(
      check.problems.every((p) => p.kind === 'torn-tail'),
      `round ${round}: only torn tails (${check.problems.map((p) => p.message).join('; ')})`,
    );
    const missing = all.filter((i) => check.store.get(`durable/${i}`, { view: 'all' })?.value === undefined);
    t.same(missing, [], `round ${round}: all ${all.length} acknowledged writes are there`);
    t.same(check.store.get(`durable/${all[all.length - 1]}`)?.value, {
      i: all[all.length - 1],
      pad: 'p'.repeat(all[all.length - 1] % 300),
    });
    check.close();
  }
});

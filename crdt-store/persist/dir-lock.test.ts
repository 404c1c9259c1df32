import t from 'tap';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from './dir-lock.js';
import { openStore } from './open.js';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === 'child') {
  try {
    lockDataDir(process.argv[3]!);
    console.log('locked');
  } catch (e) {
    console.log(`${(e as Error).name}: ${(e as Error).message}`);
  }
  process.exit(0);
}
if (process.argv[2] === 'hold') {
  lockDataDir(process.argv[3]!);
  console.log('locked');
  setInterval(() => {}, 60_000);
}

function tryLock(dir: string): string {
  return spawnSync(process.execPath, [...process.execArgv, self, 'child', dir], { encoding: 'utf8' }).stdout;
}

// The racers load the built module (npm test builds first): a bare node starts in a tenth of
// the time of one with the TypeScript loader, so 30 races take seconds.
const built = fileURLToPath(new URL('../../dist/crdt-store/persist/dir-lock.js', import.meta.url));
// A racer loads the module, says `ready`, and on `go` takes the lock and holds it until its
// stdin closes (or says it was refused): the test releases both racers at the same instant.
const racer = `import { lockDataDir } from ${JSON.stringify(built)};
import { createInterface } from 'node:readline';
const lines = createInterface({ input: process.stdin });
console.log('ready');
lines.once('line', () => {
  try { lockDataDir(process.argv[1]); console.log('locked'); } catch { console.log('refused'); }
  lines.once('close', () => process.exit(0));
});`;

interface Racer {
  ready: Promise<unknown>;
  go(): Promise<string>;
  release(): Promise<void>;
}

function racerIn(dir: string): Racer {
  const p = spawn(process.execPath, ['--input-type=module', '-e', racer, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const closed = new Promise<void>((resolve) => p.once('close', () => resolve()));
  const lines = createInterface({ input: p.stdout });
  const next = () =>
    new Promise<string>((resolve) => {
      lines.once('line', resolve);
      void closed.then(() => resolve('exited'));
    });
  const ready = next();
  return {
    ready,
    go: () => {
      const said = next();
      p.stdin.write('go\n');
      return said;
    },
    release: async () => {
      p.stdin.end();
      await closed;
    },
  };
}

if (process.argv[2] === undefined) {
  t.test('a second opener of a data directory is refused while the first runs', async (t) => {
    const dir = t.testdir();
    const first = openStore(dir, { name: 'a', clock: () => Date.now() });
    t.teardown(() => first.close());
    t.match(tryLock(dir), /DataDirInUseError: data directory .* is in use by process \d+/);
    first.close();
    t.equal(tryLock(dir).trim(), 'locked', 'close releases the lock');
  });

  t.test('a lock whose holder was killed is free at once, whatever its file says', async (t) => {
    const dir = t.testdir();
    const holder = spawn(process.execPath, [...process.execArgv, self, 'hold', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    t.match(tryLock(dir), /in use by process \d+/);
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('close', resolve));
    t.equal(tryLock(dir).trim(), 'locked');
  });

  t.test('a pid in the lock file is not a lock: only a held flock is', async (t) => {
    const dir = t.testdir();
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`);
    const release = lockDataDir(dir);
    t.throws(() => lockDataDir(dir), DataDirInUseError, 'a second description in the same process is refused too');
    release();
  });

  // Found in review: two starters that both found a stale pid file both took it over
  // (8 races of 60). With flock exactly one of each pair wins.
  t.test('two processes racing for a stale lock: exactly one wins every race', async (t) => {
    const dir = t.testdir();
    const rounds = 20;
    const doubles: number[] = [];
    for (let r = 0; r < rounds; r++) {
      writeFileSync(join(dir, LOCK_FILE), '999999999\n'); // stale: no such process
      // Both report before either lets go, so two winners held the lock at the same time.
      const racers = [racerIn(dir), racerIn(dir)];
      await Promise.all(racers.map((r) => r.ready));
      const outs = await Promise.all(racers.map((r) => r.go()));
      await Promise.all(racers.map((r) => r.release()));
      const winners = outs.filter((o) => o === 'locked').length;
      if (winners !== 1) doubles.push(r);
    }
    t.same(doubles, [], 'rounds where not exactly one process held the lock');
  });

  t.test('the lock file is private to the agent', async (t) => {
    const dir = t.testdir();
    lockDataDir(dir)();
    t.equal(statSync(join(dir, LOCK_FILE)).mode & 0o777, 0o600);
  });
}

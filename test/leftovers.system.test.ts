// The sweep of a killed run's leftovers (test/helpers/leftovers.ts): a test process that
// made a namespace with a process in it, and a bridge, is killed before its teardown; the
// sweep removes both, and leaves a live process's ledger and everything unnamed alone.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipUnless } from './helpers/system.js';
import { startTime, sweepLeftovers } from './helpers/leftovers.js';

const LEDGER = fileURLToPath(new URL('../dist/test/helpers/leftovers.js', import.meta.url));
const skip = skipUnless({ root: true, commands: ['ip', 'sleep'] });

/** A node process that makes a namespace (with a sleeper inside) and a bridge, notes them, says "made" and waits. */
function maker(dir: string, ns: string, bridge: string) {
  const code = `
    const { execFileSync, spawn } = require('node:child_process');
    import(${JSON.stringify(LEDGER)}).then(({ ownLeftover }) => {
      execFileSync('ip', ['netns', 'add', ${JSON.stringify(ns)}]);
      ownLeftover('netns', ${JSON.stringify(ns)});
      spawn('ip', ['netns', 'exec', ${JSON.stringify(ns)}, 'sleep', '600'], { stdio: 'ignore', detached: true }).unref();
      execFileSync('ip', ['link', 'add', ${JSON.stringify(bridge)}, 'type', 'bridge']);
      ownLeftover('bridge', ${JSON.stringify(bridge)});
      console.log('made');
      setInterval(() => {}, 1000);
    });`;
  const p = spawn(process.execPath, ['-e', code], {
    env: { ...process.env, WEFT_LEDGER_DIR: dir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const made = new Promise<void>((resolve, reject) => {
    p.stdout.on('data', (d: Buffer) => d.toString().includes('made') && resolve());
    p.on('exit', (code) => reject(new Error(`maker exited ${code} before making anything`)));
  });
  return { p, made };
}

const nsPids = (ns: string) =>
  execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);

t.test(
  "a killed test process's namespace, its processes and its bridge are swept; a live one's are not",
  { skip },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-ledger-test-'));
    const tag = `${process.pid % 100000}`;
    const [deadNs, liveNs, deadBr, liveBr] = [`wlk${tag}d`, `wlk${tag}l`, `wlk${tag}bd`, `wlk${tag}bl`];
    const dead = maker(dir, deadNs, deadBr);
    const live = maker(dir, liveNs, liveBr);
    t.teardown(() => {
      live.p.kill('SIGKILL');
      dead.p.kill('SIGKILL');
      for (const ns of [deadNs, liveNs]) {
        for (const pid of existsSync(`/run/netns/${ns}`) ? nsPids(ns) : []) process.kill(Number(pid), 'SIGKILL');
        if (existsSync(`/run/netns/${ns}`)) execFileSync('ip', ['netns', 'del', ns]);
      }
      for (const br of [deadBr, liveBr])
        if (existsSync(`/sys/class/net/${br}`)) execFileSync('ip', ['link', 'del', br]);
      rmSync(dir, { recursive: true, force: true });
    });
    await Promise.all([dead.made, live.made]);
    const sleeper = Number(nsPids(deadNs)[0]);
    t.ok(startTime(sleeper), 'a process runs in the namespace');

    dead.p.kill('SIGKILL');
    await new Promise((resolve) => dead.p.once('exit', resolve));
    const removed = sweepLeftovers(dir);

    t.same(removed.sort(), [`bridge ${deadBr}`, `namespace ${deadNs}`], 'only the dead process’s leftovers');
    t.notOk(existsSync(`/run/netns/${deadNs}`), 'its namespace is gone');
    t.notOk(existsSync(`/sys/class/net/${deadBr}`), 'its bridge is gone');
    // Killed; gone once its new parent has reaped it.
    for (let i = 0; i < 50 && startTime(sleeper); i++) await new Promise((r) => setTimeout(r, 100));
    t.notOk(startTime(sleeper), 'the process inside it is gone');
    t.ok(existsSync(`/run/netns/${liveNs}`), "a live process's namespace stays");
    t.ok(existsSync(`/sys/class/net/${liveBr}`), "a live process's bridge stays");
    t.equal(readdirSync(dir).length, 1, "only the live process's ledger is left");
  },
);

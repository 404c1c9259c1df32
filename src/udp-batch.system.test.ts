// System test (strace): the agent's --test-udp-no-try-send (src/node-flags.ts) sends the
// answers to a burst of queries together. The fixture reads 64 queries held in the kernel as
// one burst, answers each, and strace counts the send calls: under the agent's flags a
// handful of sendmmsg, without the flag one sendmsg an answer. Every answer must arrive,
// each to its own query, either way.
import t from 'tap';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS } from './node-flags.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['strace'] });
const FIXTURE = fileURLToPath(new URL('../dist/dns/udp-batch.fixture.js', import.meta.url));
const QUERIES = 64;

/** Runs the fixture under strace with `flags`; returns its answers and its send calls by name. */
async function burst(flags: readonly string[]): Promise<{ answers: string[]; calls: Map<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-udp-batch-'));
  const out = join(dir, 'strace.txt');
  const child = spawn(
    'strace',
    ['-f', '-qq', '-c', '-o', out, '-e', 'trace=sendmsg,sendmmsg,sendto', process.execPath, ...flags, FIXTURE],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const client = dgram.createSocket('udp4');
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`fixture exited ${code}`)));
    });
    const { port } = JSON.parse(line) as { port: number };
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const answers: string[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('message', (m) => {
        answers.push(Buffer.from(m).reverse().toString());
        if (answers.length === QUERIES) resolve();
      }),
    );
    for (let i = 0; i < QUERIES; i++) {
      await new Promise<void>((r) => client.send(`query ${i}`, port, '127.0.0.1', () => r()));
    }
    child.stdin!.write('go\n');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
    child.stdin!.end();
    await exited;
    // strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall"
    const calls = new Map<string, number>();
    for (const row of readFileSync(out, 'utf8').split('\n')) {
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(row);
      if (m && m[2] !== 'total') calls.set(m[2]!, Number(m[1]));
    }
    return { answers, calls };
  } finally {
    client.close();
    // The fixture exits when its standard input closes, whatever became of strace.
    child.stdin!.end();
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const want = Array.from({ length: QUERIES }, (_, i) => `query ${i}`);
const sends = (calls: Map<string, number>) => [...calls.values()].reduce((a, b) => a + b, 0);

t.test("under the agent's flags, a burst's answers leave in a few sendmmsg calls", { skip }, async (t) => {
  const { answers, calls } = await burst(AGENT_NODE_FLAGS);
  t.same([...answers].sort(), [...want].sort(), 'every query answered, each with its own bytes');
  t.ok((calls.get('sendmmsg') ?? 0) > 0, `sent with sendmmsg (${JSON.stringify([...calls])})`);
  t.ok(sends(calls) <= QUERIES / 4, `${sends(calls)} send calls for ${QUERIES} answers`);
});

t.test('without the flag, one send call an answer (so the test above can fail)', { skip }, async (t) => {
  const { answers, calls } = await burst(AGENT_NODE_FLAGS.filter((f) => f !== '--test-udp-no-try-send'));
  t.same([...answers].sort(), [...want].sort(), 'every query answered');
  t.ok(sends(calls) >= QUERIES, `${sends(calls)} send calls for ${QUERIES} answers (${JSON.stringify([...calls])})`);
});

import t from 'tap';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { AGENT_GLIBC_TUNABLES, AGENT_NODE_FLAGS, agentEnv } from './node-flags.js';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');

t.test('the agent is started with the same V8 flags everywhere', async (t) => {
  const shebang = read('./cli.ts').split('\n')[0]!;
  const start = (JSON.parse(read('../package.json')) as { scripts: { start: string } }).scripts.start;
  for (const flag of AGENT_NODE_FLAGS) {
    t.ok(shebang.includes(flag), `the weft shebang has ${flag}: ${shebang}`);
    t.ok(start.includes(flag), `npm start has ${flag}: ${start}`);
  }
  // hermetic: a pattern read from the source, no agent is started here
  t.match(
    read('./commands/dev-cluster.ts'),
    /\.\.\.AGENT_NODE_FLAGS,\s*CLI,\s*'agent'/,
    'dev-cluster starts agents with them',
  );
  t.match(
    read('../test/helpers/agent-process.ts'),
    /\[process\.execPath, \.\.\.AGENT_NODE_FLAGS, CLI\]/,
    'the tests start agents with them',
  );
});

t.test(
  'this node accepts every flag the agent is started with (a node that dropped one would refuse to start it)',
  async (t) => {
    const r = spawnSync(process.execPath, [...AGENT_NODE_FLAGS, '-e', ''], { encoding: 'utf8' });
    t.equal(r.status, 0, `node ${AGENT_NODE_FLAGS.join(' ')}: ${r.stderr.trim()}`);
  },
);

t.test("the agent's malloc tuning is in its environment wherever it is started, a host's own winning", async (t) => {
  const start = (JSON.parse(read('../package.json')) as { scripts: { start: string } }).scripts.start;
  t.ok(start.startsWith(`GLIBC_TUNABLES=\${GLIBC_TUNABLES:-${AGENT_GLIBC_TUNABLES}} `), `npm start: ${start}`);
  // hermetic: a test's name, no dev cluster.
  t.match(read('./commands/dev-cluster.ts'), /env: agentEnv\(\)/, 'dev-cluster');
  // the package's wrapper: test/package.e2e.test.ts reads the running agent's environment
  t.equal(agentEnv({ PATH: '/bin' }).GLIBC_TUNABLES, AGENT_GLIBC_TUNABLES);
  t.equal(agentEnv({ PATH: '/bin' }).PATH, '/bin');
  t.equal(agentEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' }).GLIBC_TUNABLES, 'glibc.malloc.arena_max=1');
});

t.test(
  "under the agent's malloc tuning a block of 32 KB or more is a mapping of its own (unmapped when freed)",
  async (t) => {
    // 256 blocks of 40 KB: on the heap they would stay there (only the heap's top is ever
    // trimmed); mapped one by one they leave with their free. The child counts its anonymous
    // mappings outside [heap] before and after holding them (glibc alone decides where they go).
    // A block that fits a chunk already free in the heap still goes there, and the process's
    // other mappings move a little meanwhile: most blocks, not all, is what tells the two apart
    // (under the old tuning the mappings grew 2,304 KB).
    const child = `
    const fs = require('node:fs');
    const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')
      .filter((l) => / rw-p 00000000 00:00 0 *$/.test(l))
      .reduce((kb, l) => { const [a, b] = l.split(' ')[0].split('-').map((x) => parseInt(x, 16)); return kb + (b - a) / 1024; }, 0);
    const before = mapped();
    const held = Array.from({ length: 256 }, () => Buffer.allocUnsafeSlow(40000));
    process.stdout.write(String(mapped() - before) + ' ' + held.length);
  `;
    const r = spawnSync(process.execPath, ['-e', child], {
      encoding: 'utf8',
      env: agentEnv({ PATH: process.env.PATH }),
    });
    t.equal(r.status, 0, r.stderr);
    const grownKb = Number(r.stdout.split(' ')[0]);
    t.ok(grownKb >= 200 * 40, `most of 256 blocks of 40 KB mapped on their own: anonymous mappings grew ${grownKb} KB`);
  },
);

// Real UDP and TCP: agents as separate processes on loopback addresses, talking through
// the daemon's own sockets. No root needed: Linux routes all of 127.0.0.0/8 to lo.
import t from 'tap';
import { startAgent, STEADY_GOSSIP_FLAGS, type AgentProcess } from '../test/helpers/agent-process.js';
import { generateKey } from './keyring.js';
import { eventually } from '../test/helpers/eventually.js';

// Fast timings so the whole file runs in well under a minute, with room for a loaded 2-core machine.
const FAST = STEADY_GOSSIP_FLAGS;
const DETECT_BOUND_MS = 20_000;

interface Member {
  name: string;
  state: string;
  incarnation: number;
}

async function members(a: AgentProcess): Promise<Member[]> {
  const res = await fetch(`${a.ready.api}/v1/members`);
  return ((await res.json()) as { members: Member[] }).members;
}

async function stateEverywhere(agents: AgentProcess[], name: string, state: string): Promise<boolean> {
  const views = await Promise.all(agents.map(members));
  return views.every((v) => v.find((m) => m.name === name)?.state === state);
}

/** What each agent sees, one line per agent: what a failure in CI should show. */
async function views(agents: AgentProcess[]): Promise<string> {
  const lines = await Promise.all(
    agents.map(async (a) => {
      const seen = await members(a).then(
        (ms) => ms.map((m) => `${m.name}=${m.state}/${m.incarnation}`).join(' '),
        (e: Error) => `no answer (${e.message})`,
      );
      const gone = a.proc.exitCode ?? a.proc.signalCode;
      // An agent that exited on its own says why in its last lines.
      const last = gone === null ? '' : ` (exited ${gone}; last lines ${JSON.stringify(a.lines.slice(-3))})`;
      return `${a.ready.gossip}: ${seen}${last}`;
    }),
  );
  return lines.join(' | ');
}

/** `waiting`, or when it fails, its error with every agent's view added. */
async function explained(agents: AgentProcess[], waiting: Promise<number>): Promise<number> {
  return waiting.catch(async (e: Error) => {
    throw new Error(`${e.message}: ${await views(agents)}`);
  });
}

t.test('10 agents on loopback: form a cluster, detect kill -9, show a graceful leave', async (t) => {
  const agents: AgentProcess[] = [];
  const seed = '127.0.1.1';
  agents.push(await startAgent(t, ['--node', 'n1', '--bind', seed, '--bind-port', '0', ...FAST]));
  const seedAddr = agents[0]!.ready.gossip!;
  t.match(seedAddr, /^127\.0\.1\.1:\d+$/);
  const rest = await Promise.all(
    Array.from({ length: 9 }, (_, i) =>
      startAgent(t, [
        '--node',
        `n${i + 2}`,
        '--bind',
        `127.0.1.${i + 2}`,
        '--bind-port',
        '0',
        '--join',
        seedAddr,
        ...FAST,
      ]),
    ),
  );
  agents.push(...rest);

  // 30 s: in CI ten agents start beside other test files on 2 cores.
  const formed = await explained(
    agents,
    eventually(
      'all 10 see 10 alive',
      async () =>
        (await Promise.all(agents.map(members))).every((v) => v.filter((m) => m.state === 'alive').length === 10),
      30_000,
    ),
  );
  t.pass(`cluster of 10 formed in ${formed}ms`);

  const victim = agents[4]!;
  victim.proc.kill('SIGKILL');
  const survivors = agents.filter((a) => a !== victim);
  const detect = await explained(
    survivors,
    eventually('every survivor marks n5 dead', () => stateEverywhere(survivors, 'n5', 'dead'), DETECT_BOUND_MS),
  );
  t.pass(`kill -9 of n5 marked dead by all 9 others in ${detect}ms`);

  const leaver = agents[7]!;
  leaver.proc.kill('SIGINT'); // SIGINT leaves; SIGTERM (a service manager's stop or restart) does not
  t.equal(await leaver.exited, 0, 'the leaving agent exits 0');
  const remaining = survivors.filter((a) => a !== leaver);
  await explained(
    remaining,
    eventually(
      'every remaining agent shows n8 as left',
      () => stateEverywhere(remaining, 'n8', 'left'),
      DETECT_BOUND_MS,
    ),
  );
  t.pass('graceful leave shows as left everywhere');

  const alive = (await members(remaining[0]!))
    .filter((m) => m.state === 'alive')
    .map((m) => m.name)
    .sort();
  t.same(alive, ['n1', 'n10', 'n2', 'n3', 'n4', 'n6', 'n7', 'n9'], 'no false deaths among the others', {
    views: await views(remaining),
  });

  await Promise.all(remaining.map(async (a) => (a.proc.kill('SIGTERM'), a.exited)));
});

t.test('an encrypted cluster rejects a node with the wrong key, and counts it', async (t) => {
  const key = generateKey();
  const other = generateKey();
  const a = await startAgent(t, ['--node', 'k1', '--bind', '127.0.2.1', '--bind-port', '0', '--encrypt', key, ...FAST]);
  const b = await startAgent(t, [
    '--node',
    'k2',
    '--bind',
    '127.0.2.2',
    '--bind-port',
    '0',
    '--encrypt',
    key,
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  await eventually(
    'k1 and k2 see each other',
    async () => (await members(a)).length === 2 && (await members(b)).length === 2,
    10_000,
  );

  const intruder = await startAgent(t, [
    '--node',
    'k3',
    '--bind',
    '127.0.2.3',
    '--bind-port',
    '0',
    '--encrypt',
    other,
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  const plain = await startAgent(t, [
    '--node',
    'k4',
    '--bind',
    '127.0.2.4',
    '--bind-port',
    '0',
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  // Give them time to try: join, then the core's own retries.
  await eventually(
    'k1 counted rejected input',
    async () =>
      /weft_gossip_rejected_total\{reason="(decrypt_failed|encryption_mismatch)"\} [1-9]/.test(
        await (await fetch(`${a.ready.api}/metrics`)).text(),
      ),
    10_000,
  );
  await new Promise((r) => setTimeout(r, 2_000));
  t.same((await members(a)).map((m) => m.name).sort(), ['k1', 'k2'], 'k1 knows neither intruder');
  t.same((await members(b)).map((m) => m.name).sort(), ['k1', 'k2'], 'k2 knows neither intruder');
  t.same(
    (await members(intruder)).map((m) => m.name),
    ['k3'],
    'the wrong-key node is alone',
  );
  t.same(
    (await members(plain)).map((m) => m.name),
    ['k4'],
    'the unencrypted node is alone',
  );
  const metrics = await (await fetch(`${a.ready.api}/metrics`)).text();
  t.match(
    metrics,
    /weft_gossip_rejected_total\{reason="decrypt_failed"\} [1-9]/,
    'wrong key counted as decrypt_failed',
  );
  t.match(
    metrics,
    /weft_gossip_rejected_total\{reason="encryption_mismatch"\} [1-9]/,
    'plain packets counted as encryption_mismatch',
  );

  for (const p of [a, b, intruder, plain]) p.proc.kill('SIGTERM');
  await Promise.all([a, b, intruder, plain].map((p) => p.exited));
});

t.test('a node with another cluster label is kept apart', async (t) => {
  const a = await startAgent(t, [
    '--node',
    'l1',
    '--bind',
    '127.0.4.1',
    '--bind-port',
    '0',
    '--label',
    'blue',
    ...FAST,
  ]);
  const b = await startAgent(t, [
    '--node',
    'l2',
    '--bind',
    '127.0.4.2',
    '--bind-port',
    '0',
    '--label',
    'green',
    '--join',
    a.ready.gossip!,
    ...FAST,
  ]);
  await eventually(
    'l1 counted a wrong label',
    async () =>
      /weft_gossip_rejected_total\{reason="wrong_label"\} [1-9]/.test(
        await (await fetch(`${a.ready.api}/metrics`)).text(),
      ),
    10_000,
  );
  t.same(
    (await members(a)).map((m) => m.name),
    ['l1'],
  );
  t.same(
    (await members(b)).map((m) => m.name),
    ['l2'],
  );
  for (const p of [a, b]) p.proc.kill('SIGTERM');
  await Promise.all([a, b].map((p) => p.exited));
});

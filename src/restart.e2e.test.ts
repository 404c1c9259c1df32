// A restart is not a leave: SIGTERM (systemctl stop or restart) stops an agent without
// leaving, so while it restarts the others keep it alive and keep answering for its
// endpoints (issue 15: "a restarted agent changes nothing that works"). SIGINT still leaves.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { resolvesA, runCli, startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';

// The lan preset's probes, with a suspicion long enough (30 × 1 s for two nodes) that a
// restart on a busy test machine (over 8 s at load 60) is back before it could be declared dead.
const TIMINGS = ['--suspicion-mult', '30'];
const SERVICE = 'web.svc.weft.internal';
const BACKEND = '127.0.23.102';

function args(dir: string, name: string, bind: string, seed?: string): string[] {
  return ['--node', name, '--bind', bind, '--data-dir', join(dir, name), ...(seed ? ['--join', seed] : []), ...TIMINGS];
}

async function stateAt(a: AgentProcess, name: string): Promise<string | undefined> {
  const body = (await (await fetch(`${a.ready.api}/v1/members`)).json()) as {
    members: { name: string; state: string }[];
  };
  return body.members.find((m) => m.name === name)?.state;
}

/** Asks `a` every 100 ms until stopped: what it got wrong about b and its endpoint. */
function watch(a: AgentProcess): { stop: () => Promise<string[]> } {
  const wrong: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const addrs = await resolvesA(a, SERVICE).catch((e: Error) => [`error ${e.message}`]);
      if (addrs.join() !== BACKEND) wrong.push(`${SERVICE}: ${JSON.stringify(addrs)}`);
      const state = await stateAt(a, 'rb');
      // Suspect is what a node that does not answer probes is, for a while: not dead, not left.
      if (state !== 'alive' && state !== 'suspect') wrong.push(`rb ${state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return wrong;
    },
  };
}

t.test('SIGTERM and start again: the others never lose the node or its endpoint; SIGINT leaves', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-restart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = await startAgent(t, args(dir, 'ra', '127.0.23.1'));
  let b = await startAgent(t, args(dir, 'rb', '127.0.23.2', a.ready.gossip));
  const reg = await runCli(['service', 'register', 'web', '--id', 'web-b', '--addr', BACKEND], {
    WEFT_API: b.ready.api!,
  });
  t.equal(reg.code, 0, reg.stderr);
  await eventually(
    'ra answers for rb’s endpoint',
    async () => (await resolvesA(a, SERVICE)).join() === BACKEND,
    20_000,
  );

  const watcher = watch(a);
  b.proc.kill('SIGTERM');
  t.equal(await b.exited, 0, 'SIGTERM exits 0');
  t.notOk(
    b.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('leaving the cluster')),
    'SIGTERM does not leave',
  );
  b = await startAgent(t, args(dir, 'rb', '127.0.23.2', a.ready.gossip));
  await eventually('rb is back in ra’s view', async () => (await stateAt(a, 'rb')) === 'alive', 20_000);
  await new Promise((r) => setTimeout(r, 2_000));
  t.same(
    await watcher.stop(),
    [],
    'while rb restarted, ra never had it dead or left and always answered for its endpoint',
  );

  b.proc.kill('SIGINT');
  t.equal(await b.exited, 0, 'SIGINT exits 0');
  await eventually('SIGINT is a leave: ra shows rb as left', async () => (await stateAt(a, 'rb')) === 'left', 20_000);
  await eventually(
    'and stops answering for its endpoint',
    async () => (await resolvesA(a, SERVICE)).length === 0,
    20_000,
  );
});

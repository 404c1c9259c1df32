// Signed membership against real agents on loopback (issue 13, step 3). A key holder with
// its own certificate forges node2's membership: held and counted (IDENTITY_OFF=1 runs the
// same on a key-only cluster, where it must fail). And a revoked node is failed at every
// other node within the detection bound, stays failed, and its gossip is refused.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';
import { FAST, metric } from '../bench/hostile/store.js';
import { tlsArgs } from '../bench/hostile/identity-cluster.js';
import { members } from '../bench/hostile/gossip.js';
import { keyHolderForgesMembership } from '../bench/hostile/identity-membership.js';

const skip = skipUnless({ commands: ['openssl'] });
const DETECT_BOUND_MS = 10_000;
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');
const cli = (...args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );

t.test("a key holder with its own certificate cannot forge node2's membership", { skip }, async (t) => {
  const r = await keyHolderForgesMembership(t, { identity: process.env.IDENTITY_OFF !== '1' });
  t.comment(r.detail ?? '');
  t.equal(r.forged_accepted, 0, 'node2 alive at the incarnation it signed, everywhere');
  t.ok(r.held, r.detail ?? r.name);
});

t.test(
  'a revoked node is failed everywhere within the detection bound, and its gossip is refused',
  { skip },
  async (t) => {
    const pki = makePki(['m1', 'm2', 'm3']);
    t.teardown(() => pki.cleanup());
    const net = '127.0.136';
    const start = (i: number, seed?: string) =>
      startAgent(t, [
        '--node',
        `m${i}`,
        '--bind',
        `${net}.${i}`,
        '--bind-port',
        '0',
        ...FAST,
        ...tlsArgs(pki, `m${i}`),
        ...(seed ? ['--join', seed] : []),
      ]);
    const m1 = await start(1);
    const m2 = await start(2, m1.ready.gossip);
    await start(3, m1.ready.gossip);
    const stateOf = async (a: AgentProcess, name: string) => (await members(a)).find((m) => m.name === name)?.state;
    await eventually(
      'm1 and m2 hold m3 alive',
      async () => (await Promise.all([m1, m2].map((a) => stateOf(a, 'm3')))).every((s) => s === 'alive'),
      15_000,
    );

    const t0 = Date.now();
    const done = await cli('tls', 'revoke', '--node', 'm3', '--dir', pki.dir, '--api', m1.ready.api!);
    t.equal(done.code, 0, done.out);
    await eventually(
      'm1 and m2 hold m3 dead',
      async () => (await Promise.all([m1, m2].map((a) => stateOf(a, 'm3')))).every((s) => s === 'dead'),
      DETECT_BOUND_MS,
      50,
    );
    t.pass(`m3 failed at m1 and m2 ${Date.now() - t0} ms after weft tls revoke (bound ${DETECT_BOUND_MS} ms)`);

    // m3 runs on and keeps talking (it probes, it refutes): refused and counted, and it stays dead.
    const refused = () => metric([m1, m2], 'weft_gossip_rejected_total{reason="refused_sender"}');
    await eventually("m1 and m2 refuse m3's gossip", async () => (await refused()) > 0, 10_000);
    await new Promise((r) => setTimeout(r, 3000));
    for (const a of [m1, m2]) t.equal(await stateOf(a, 'm3'), 'dead', 'm3 stays dead');
    t.equal(await stateOf(m1, 'm2'), 'alive', 'the others stay alive');
  },
);

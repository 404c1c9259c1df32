// Revoking a running node (issue 13), with real agents: `weft tls revoke` signs with the CA
// key and hands the revocation to one agent; every other node drops the revoked node's
// records, so its services leave DNS everywhere within the detection bound, and its later
// writes are refused and counted. A revocation not signed by the CA is refused.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { startAgent, type AgentProcess, resolvesA } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';
import { FAST, metric } from '../bench/hostile/store.js';
import { tlsArgs } from '../bench/hostile/identity-cluster.js';

const DETECT_BOUND_MS = 10_000;
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');

const post = (x: AgentProcess, path: string, body: unknown) =>
  fetch(`${x.ready.api}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
const cli = (...args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );

t.test(
  "a revoked node's services leave DNS everywhere; its later writes are refused",
  { skip: skipUnless({ commands: ['openssl'] }) },
  async (t) => {
    const pki = makePki(['r1', 'r2', 'r3']);
    const other = makePki([]);
    t.teardown(() => (pki.cleanup(), other.cleanup()));
    const net = '127.0.134';
    const start = (i: number, seed?: string) =>
      startAgent(t, [
        '--node',
        `r${i}`,
        '--bind',
        `${net}.${i}`,
        '--bind-port',
        '0',
        ...FAST,
        ...tlsArgs(pki, `r${i}`),
        ...(seed ? ['--join', seed] : []),
      ]);
    const r1 = await start(1);
    const r2 = await start(2, r1.ready.gossip);
    const r3 = await start(3, r1.ready.gossip);
    t.equal((await post(r1, '/v1/services', { service: 'rev', id: 'a', addrs: ['10.8.0.1'] })).status, 201);
    t.equal((await post(r3, '/v1/services', { service: 'rev', id: 'c', addrs: ['10.8.0.3'] })).status, 201);
    await eventually(
      "r1 and r2 answer rev.svc with r1's and r3's endpoints",
      async () =>
        (await Promise.all([r1, r2].map((a) => resolvesA(a, 'rev.svc.weft.internal')))).every(
          (r) => r.join() === '10.8.0.1,10.8.0.3',
        ),
      15_000,
    );

    // A revocation signed by another CA's key: refused by the agent.
    const forged = await cli('tls', 'revoke', '--node', 'r3', '--ca-key', other.ca.key, '--api', r1.ready.api!);
    t.equal(forged.code, 1, 'a revocation not signed by the cluster CA is refused');
    t.match(forged.out, /does not revoke r3/);

    const t0 = Date.now();
    const done = await cli('tls', 'revoke', '--node', 'r3', '--dir', pki.dir, '--api', r1.ready.api!);
    t.equal(done.code, 0, done.out);
    const ms = await eventually(
      "r3's endpoint leaves DNS at r1 and r2",
      async () =>
        (await Promise.all([r1, r2].map((a) => resolvesA(a, 'rev.svc.weft.internal')))).every(
          (r) => r.join() === '10.8.0.1',
        ),
      DETECT_BOUND_MS,
      50,
    );
    t.pass(`r3's service left DNS at r1 and r2 ${Date.now() - t0} ms after weft tls revoke (${ms} ms waited)`);
    t.same(await resolvesA(r2, 'r3.node.weft.internal'), [], "r3's node name is gone too");

    // r3 keeps writing: refused and counted, never shown. With signed membership r3 is also
    // failed in membership, so its store packets may be refused as a non-member's first.
    const refused = async () =>
      (await metric([r1, r2], 'weft_store_rejected_total{reason="change_revoked"}')) +
      (await metric([r1, r2], 'weft_store_rejected_total{reason="not_member"}'));
    const before = await refused();
    t.equal((await post(r3, '/v1/services', { service: 'after', id: 'c', addrs: ['10.8.1.3'] })).status, 201);
    await eventually(
      "r1 and r2 count r3's changes as revoked or from a non-member",
      async () => (await refused()) > before,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    for (const a of [r1, r2])
      t.same(await resolvesA(a, 'after.svc.weft.internal'), [], "r3's write after revocation is not taken");
  },
);

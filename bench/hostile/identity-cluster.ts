// A cluster of real agents with the shared key and, given a PKI, node certificates: the
// ground both identity attacks (store and membership) start from.
import { startAgent, type AgentProcess, type Teardown } from '../../test/helpers/agent-process.js';
import { eventually } from '../../test/helpers/eventually.js';
import type { TestPki } from '../../test/helpers/identity.js';
import { FAST, liveRecords } from './store.js';

/** Agent flags for node `name`'s identity from `pki`. */
export function tlsArgs(pki: TestPki, name: string): string[] {
  const f = pki.node(name);
  return ['--tls-ca-file', pki.ca.cert, '--tls-cert-file', f.cert, '--tls-key-file', f.key];
}

/** `n` agents node1..n on `net`, with the key and identity, joined, each seeing every node/ record. */
export async function startIdentityCluster(
  t: Teardown,
  net: string,
  n: number,
  pki: TestPki | undefined,
  extra: (i: number) => string[] = () => [],
): Promise<AgentProcess[]> {
  const start = (i: number, seed?: string) =>
    startAgent(t, [
      '--node',
      `node${i}`,
      '--bind',
      `${net}.${i}`,
      '--bind-port',
      '0',
      ...FAST,
      ...(pki ? tlsArgs(pki, `node${i}`) : []),
      ...extra(i),
      ...(seed ? ['--join', seed] : []),
    ]);
  const agents = [await start(1)];
  for (let i = 2; i <= n; i++) agents.push(await start(i, agents[0]!.ready.gossip!));
  await eventually(
    `all ${n} agents see ${n} node records`,
    async () => (await Promise.all(agents.map((a) => liveRecords(a, 'node/')))).every((r) => r.length === n),
    20_000,
  );
  return agents;
}

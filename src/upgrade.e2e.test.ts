// A rolling upgrade (issue 15): four agents of the previous release (test/helpers/previous-release.ts,
// built from its git tag) are replaced by this build one at a time, as an operator would with
// `systemctl restart weft` on one host after another. Throughout, DNS answers the service and
// traffic through its VIP reaches a backend at a node that is not restarting, and no durable KV
// write is lost.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { freePort } from '../test/helpers/free-port.js';
import {
  FAST_GOSSIP_FLAGS,
  resolvesA,
  runCli,
  startAgent,
  type AgentProcess,
  type Teardown,
} from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { buildPreviousRelease, PREVIOUS_RELEASE, previousReleaseRev } from '../test/helpers/previous-release.js';
import { requireSystem } from '../test/helpers/system.js';
import { VERSION } from './version.js';

const NODES = 4;
/** The VIP's port, where each node's proxy listens: one free on every address, not 8080. */
const VIP_PORT = await freePort();
const rev = previousReleaseRev();
const missing = rev
  ? false
  : `the previous release ${PREVIOUS_RELEASE.tag} (${PREVIOUS_RELEASE.commit.slice(0, 7)}) is not in this clone's history (a shallow clone?)`;
if (missing && requireSystem()) throw new Error(`prerequisite missing with WEFT_REQUIRE_SYSTEM=1: ${missing}`);

const bind = (i: number) => `127.0.9.${i + 1}`;

/** One node's agent, started from `weft` (the old release or this build) on its own data dir. */
function nodeArgs(dir: string, i: number, seed?: string): string[] {
  return [
    '--node',
    `up${i}`,
    '--bind',
    bind(i),
    '--data-dir',
    join(dir, `up${i}`),
    // Each node's userspace proxy listens on its own loopback range: four on one host.
    '--proxy-cidr',
    `127.${210 + i}.0.0/16`,
    ...(seed ? ['--join', seed] : []),
    ...FAST_GOSSIP_FLAGS,
  ];
}

async function backends(t: Teardown): Promise<{ addr: string; port: number }[]> {
  const out: { addr: string; port: number }[] = [];
  for (let i = 0; i < NODES; i++) {
    const addr = `127.0.9.${101 + i}`;
    const s: Server = createServer((_q, res) => res.end(`backend ${i}\n`));
    await new Promise<void>((r) => s.listen(0, addr, r));
    t.teardown(() => void s.close());
    out.push({ addr, port: (s.address() as AddressInfo).port });
  }
  return out;
}

/** A durable KV write at one agent, noted in `written`: what failed, or undefined. */
async function durableWrite(a: AgentProcess, key: string, written: string[]): Promise<string | undefined> {
  try {
    const put = await fetch(`${a.ready.api}/v1/kv/${key}?durable=true`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key }),
    });
    if (put.status !== 200) return `durable write: HTTP ${put.status}`;
    written.push(key);
    return undefined;
  } catch (e) {
    return `durable write: ${(e as Error).message}`;
  }
}

/** Until `a` answers (probe), or an error naming the last failure. */
async function answers(what: string, a: AgentProcess): Promise<void> {
  let last: string | undefined;
  await eventually(what, async () => !(last = await probe(a)), 30_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${last}`);
  });
}

/** DNS for the service and the VIP, and a request through the VIP, at one agent: what failed, or undefined. */
async function probe(a: AgentProcess): Promise<string | undefined> {
  if ((await resolvesA(a, 'web.svc.weft.internal')).length === 0) return 'no A for web.svc';
  const [vip] = await resolvesA(a, 'web.vip.weft.internal');
  if (!vip) return 'no A for web.vip';
  try {
    const body = await (await fetch(`http://${vip}:${VIP_PORT}/`, { signal: AbortSignal.timeout(2000) })).text();
    return /^backend \d/.test(body) ? undefined : `VIP answered ${JSON.stringify(body)}`;
  } catch (e) {
    return `VIP: ${(e as Error).message}`;
  }
}

t.test('a rolling upgrade from the previous release keeps DNS, VIPs and durable KV', { skip: missing }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-upgrade-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const old = buildPreviousRelease(join(dir, 'release'), rev!);
  const agents: AgentProcess[] = [];
  for (let i = 0; i < NODES; i++)
    agents.push(await startAgent(t, nodeArgs(dir, i, agents[0]?.ready.gossip), {}, 60_000, old));
  const be = await backends(t);
  for (let i = 0; i < NODES; i++) {
    const reg = await runCli(
      [
        'service',
        'register',
        'web',
        '--id',
        `web-${i}`,
        '--addr',
        be[i]!.addr,
        '--vip',
        `web:${VIP_PORT}->${be[i]!.port}`,
      ],
      { WEFT_API: agents[i]!.ready.api! },
    );
    t.equal(reg.code, 0, reg.stderr);
  }
  for (const a of agents) await answers('every node answers for the service and its VIP', a);

  const failures: string[] = [];
  const written: string[] = [];
  let restarting = -1;
  let stop = false;
  // While one node restarts, the next one is asked, every 200 ms, and takes a durable write.
  const watcher = (async () => {
    for (let n = 0; !stop; n++) {
      const now = restarting;
      const at = (now + 1 + NODES) % NODES;
      const why = (await probe(agents[at]!)) ?? (await durableWrite(agents[at]!, `upgrade/${n}`, written));
      // A round that saw the next restart begin may have asked the node going down: not counted.
      if (why && restarting === now) failures.push(`up${at} while up${now} restarted: ${why}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  // The watcher stops even when a restart fails, so the test ends with its report.
  t.teardown(() => void (stop = true));
  for (let i = 0; i < NODES; i++) {
    restarting = i;
    agents[i]!.proc.kill('SIGTERM');
    await agents[i]!.exited;
    const seed = agents[(i + 1) % NODES]!.ready.gossip;
    agents[i] = await startAgent(t, nodeArgs(dir, i, seed), {}, 60_000);
    await answers(`up${i} of this build answers for the service and its VIP`, agents[i]!);
  }
  stop = true;
  await watcher;

  t.same(failures, [], 'DNS, the VIP and durable writes kept working at the nodes not restarting');
  t.ok(written.length > 10, `${written.length} durable writes during the upgrade`);
  for (const a of agents) {
    const status = (await (await fetch(`${a.ready.api}/v1/status`)).json()) as { version: string };
    t.equal(status.version, VERSION, `${a.ready.node ?? 'a node'} runs this build`);
  }
  await eventually(
    'every durable write is at every node',
    async () => {
      for (const a of agents) {
        const body = (await (await fetch(`${a.ready.api}/v1/kv?prefix=upgrade/`)).json()) as {
          entries: { key: string }[];
        };
        const keys = new Set(body.entries.map((e) => e.key));
        if (!written.every((k) => keys.has(k))) return false;
      }
      return true;
    },
    20_000,
  );
});

// Attacks on the replicated store, against real agents on loopback (README "Security": a node
// can lie only about itself):
//
//   nonMemberForgery   a process that is no member (no key: the cluster runs without one)
//                      replicates with the agents as if it were a peer, then writes an
//                      endpoint of service web with its own address into the shared
//                      records, deletes kv/config/db and declares a VIP on port 22
//   keyHolderEpoch     a member holding the cluster key pushes forged documents n/node2 at
//                      epoch 2^53-1, a year ahead, and 10 minutes ahead (within the allowed
//                      skew), and node2's records in the shared documents and in its own
//                      document; node2 must keep writing and being heard, and keep its log
//                      across a restart
//   retiredKey         (keyring.ts in this folder's tests) a key removed by rotation must no
//                      longer open store packets
//
// Each starts what it needs, attacks, measures, and cleans up through the Teardown given
// (a tap test's t, or runStoreAttacks' own).
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  apiCall,
  runCli,
  startAgent,
  STEADY_GOSSIP_FLAGS,
  type AgentProcess,
  type Teardown,
} from '../../test/helpers/agent-process.js';
import { eventually } from '../../test/helpers/eventually.js';
import { StoreNode, type MembershipSource, type SourceMember } from '../../crdt-store/store-node.js';
import { Envelope } from '../../crdt-store/envelope.js';
import { forgedOwnDocPush, sharedWritePush } from './store-forge.js';
import { Membership } from '../../membership/membership.js';
import { makeConfig } from '../../membership/core/config.js';
import { generateKey, Keyring } from '../../membership/keyring.js';
import { encodeMeta, storePortOf } from '../../src/node-meta.js';
import type { AttackResult } from './result.js';
import type { ChangeAuth } from '../../crdt-store/change-auth.js';
import type { MemberAuth } from '../../membership/core/member-auth.js';

export type { AttackResult };

export const FAST = STEADY_GOSSIP_FLAGS;
export const api = apiCall;

/** Records of the store's live view under `prefix` at `a`: what DNS, the LB and the API read. */
export async function liveRecords(
  a: AgentProcess,
  prefix: string,
): Promise<{ key: string; value: unknown; owner: string }[]> {
  const r = await api(a, 'GET', `/v1/store?prefix=${encodeURIComponent(prefix)}&view=live`);
  return (r.body.entries as { key: string; value: unknown; owner: string }[] | undefined) ?? [];
}

const endpointPort = (p: string) => {
  const [i, proto] = p.split(':');
  return { addr: i!, port: Number(proto) };
};

/** `n` agents on `net`.1..n joined into one cluster, each seeing every node/ record. */
export async function startCluster(
  t: Teardown,
  net: string,
  n: number,
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
      ...extra(i),
      ...(seed ? ['--join', seed] : []),
    ]);
  const agents = [await start(1)];
  const seed = agents[0]!.ready.gossip!;
  for (let i = 2; i <= n; i++) agents.push(await start(i, seed));
  await eventually(
    `all ${n} agents see ${n} node records`,
    async () => (await Promise.all(agents.map((a) => liveRecords(a, 'node/')))).every((r) => r.length === n),
    20_000,
  );
  return agents;
}

export function tempDirs(t: Teardown, tag: string): (i: number) => string {
  const base = mkdtempSync(join(tmpdir(), `weft-hostile-${tag}-`));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  return (i) => join(base, `n${i}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ non-member forgery

/** kv/config/db written at node1 and service web at node2, once every agent holds both. */
async function seedKvAndWeb(agents: AgentProcess[], net: string): Promise<void> {
  await api(agents[0]!, 'PUT', '/v1/kv/config/db', { host: 'db.internal' });
  await api(agents[1]!, 'POST', '/v1/services', {
    service: 'web',
    id: 'web',
    addrs: [`${net}.2`],
    ports: { http: '8080/tcp' },
  });
  await eventually(
    'kv/config/db and web at every agent',
    async () => {
      const ok = await Promise.all(
        agents.map(
          async (a) =>
            (await liveRecords(a, 'kv/config/db')).length === 1 && (await liveRecords(a, 'svc/web/')).length === 1,
        ),
      );
      return ok.every(Boolean);
    },
    10_000,
  );
}

/** The non-member's writes that took, one line each: which agent shows what. */
async function nonMemberWritesTaken(agents: AgentProcess[], attackerAddr: string): Promise<string[]> {
  const detail: string[] = [];
  for (const [i, a] of agents.entries()) {
    const web = await liveRecords(a, 'svc/web/');
    if (web.some((r) => JSON.stringify(r.value).includes(attackerAddr)))
      detail.push(`node${i + 1}: web has the attacker's address`);
    if ((await liveRecords(a, 'kv/config/db')).length === 0) detail.push(`node${i + 1}: kv/config/db deleted`);
    if ((await liveRecords(a, 'vip/ssh:22/tcp')).length > 0) detail.push(`node${i + 1}: VIP on port 22 declared`);
  }
  return detail;
}

/**
 * A peer that is no member: a real StoreNode bound to its own address, told (by a fake
 * membership) that the agents are its peers. It repairs with them (which reads their
 * documents, unless they refuse strangers), then writes through the shared documents.
 */
export async function nonMemberForgery(t: Teardown, opts: { smoke: boolean }): Promise<AttackResult> {
  const net = '127.0.121';
  const agents = await startCluster(t, net, 3);
  await seedKvAndWeb(agents, net);

  const attackerAddr = `${net}.99`;
  const victims: SourceMember[] = agents.map((a, i) => ({
    name: `node${i + 1}`,
    ...endpointPort(a.ready.store!),
    state: 'alive',
  }));
  const membership: MembershipSource = { members: () => victims, on: () => undefined, off: () => undefined };
  const mallory = await StoreNode.start({
    name: 'mallory',
    dataDir: undefined,
    bind: attackerAddr,
    port: 0,
    membership,
    peerEndpoint: (m) => ({ addr: m.addr, port: m.port }),
    replication: { repairIntervalMs: 100 },
  });
  t.teardown(() => mallory.stop());
  await sleep(opts.smoke ? 1500 : 3000); // repair with every agent: reads their shared documents if they answer
  const read = mallory.get('kv/config/db', { view: 'all' }) !== undefined;

  const evil = {
    service: 'web',
    addrs: [attackerAddr],
    ports: { http: { port: 8080, proto: 'tcp' } },
    health: 'none',
    vips: [{ vip: 'ssh', port: 22, proto: 'tcp', targetPort: 22 }],
    source: 'api',
  };
  await mallory.put('svc/web/node1/evil', evil as never, { shared: true });
  await mallory.delete('kv/config/db', { shared: true });
  await mallory.put('vip/ssh:22/tcp', { vip: 'ssh', port: 22, proto: 'tcp' }, { shared: true });
  await sleep(opts.smoke ? 2500 : 4000); // pushes, then a few repair rounds

  const detail = await nonMemberWritesTaken(agents, attackerAddr);
  const forged = detail.length; // one line per forged record that took
  const notMember = await metric(agents, 'weft_store_rejected_total{reason="not_member"}');
  return {
    name: 'store: forged records from a non-member',
    held: forged === 0,
    forged_accepted: forged,
    detail: forged
      ? detail.join('; ')
      : `nothing changed on any of 3 agents (attacker could read the documents: ${read}); ${notMember} store messages dropped as not from a member`,
    figures: { store_forged_nonmember: forged, store_not_member_drops: notMember },
  };
}

/** The sum over agents of one metric line's value (0 if absent). */
export async function metric(agents: AgentProcess[], line: string): Promise<number> {
  let sum = 0;
  for (const a of agents) {
    const text = await (await fetch(a.ready.api + '/metrics')).text();
    const m = text.split('\n').find((l) => l.startsWith(line + ' '));
    if (m) sum += Number(m.slice(line.length + 1));
  }
  return sum;
}

// ------------------------------------------------------------------ key holder, forged epochs

/** The attacker: a member with the key (membership and a store, as an agent has), seen by every agent. */
/**
 * Mallory: a membership and a store holding the shared key, joined and seen alive by every
 * agent. With `identity`, both sign with mallory's own certificate, as a compromised member's would.
 */
export async function startKeyHolder(
  t: Teardown,
  agents: AgentProcess[],
  key: string,
  attackerAddr: string,
  identity?: { members: MemberAuth; changes: ChangeAuth },
): Promise<StoreNode> {
  const meta = new Map<string, unknown>();
  const m = await Membership.start({
    name: 'mallory',
    bindAddr: attackerAddr,
    bindPort: 0,
    keys: [key],
    config: makeConfig('local', { probeIntervalMs: 500, probeTimeoutMs: 250 }),
    meta: encodeMeta(meta),
    auth: identity?.members,
  });
  t.teardown(() => m.close());
  const store = await StoreNode.start({
    name: 'mallory',
    dataDir: undefined,
    bind: attackerAddr,
    port: 0,
    membership: m,
    keys: [key],
    auth: identity?.changes,
    peerEndpoint: (member) => {
      const port = storePortOf(member.meta);
      if (port === undefined) throw new Error('no store port yet');
      return { addr: member.addr, port };
    },
  });
  t.teardown(() => store.stop());
  meta.set('store', store.local.port);
  m.updateMeta(encodeMeta(meta));
  await m.join([agents[0]!.ready.gossip!]);
  await eventually(
    'the agents see mallory as a member',
    async () => {
      const views = await Promise.all(agents.map((a) => api(a, 'GET', '/v1/members')));
      return views.every((v) =>
        (v.body.members as { name: string; state: string; meta: string }[]).some(
          (x) => x.name === 'mallory' && x.state === 'alive' && x.meta.includes('"store"'),
        ),
      );
    },
    15_000,
  );
  return store;
}

/** node2's own document forged at three epochs, then node2's records where they do not belong. */
async function sendForgedEpochs(send: (bytes: Uint8Array) => void, attackerAddr: string): Promise<void> {
  const forgedRecords = {
    'node/node2': { addr: attackerAddr },
    'svc/api/node2/api': {
      service: 'api',
      addrs: [attackerAddr],
      ports: { http: { port: 8080, proto: 'tcp' } },
      health: 'none',
      vips: [],
      source: 'api',
    },
  };
  const epochs = [2 ** 53 - 1, Date.now() + 365 * 86400_000, Date.now() + 10 * 60_000];
  for (const e of epochs) {
    send(forgedOwnDocPush('node2', e, forgedRecords));
    await sleep(300);
  }
  // node2's records written where they do not belong: the shared records, and mallory's own document.
  send(sharedWritePush('svc/api/node2/api', forgedRecords['svc/api/node2/api']));
  send(sharedWritePush('node/node2', forgedRecords['node/node2']));
  const own = Date.now() + 1000;
  send(forgedOwnDocPush('mallory', own, forgedRecords));
  await sleep(300);
}

/** Sends from the key holder's own store socket to every agent's store port: the agents hear only members' store endpoints. */
export function storeSender(store: StoreNode, agents: AgentProcess[]): (bytes: Uint8Array) => void {
  const inner = store as unknown as {
    transport: { sendPacket(to: { addr: string; port: number }, b: Uint8Array): void };
    envelope: { seal(b: Uint8Array): Buffer };
  };
  return (bytes) => {
    for (const a of agents) inner.transport.sendPacket(endpointPort(a.ready.store!), inner.envelope.seal(bytes));
  };
}

/** node2's api records and node record at every agent that carry the attacker's address. */
async function attackerRecords(agents: AgentProcess[], attackerAddr: string): Promise<number> {
  let forged = 0;
  for (const a of agents) {
    for (const r of [...(await liveRecords(a, 'svc/api')), ...(await liveRecords(a, 'node/node2'))])
      if (JSON.stringify(r.value).includes(attackerAddr)) forged++;
  }
  return forged;
}

/** Whether every agent holds node2's record and its two api endpoints, none with the attacker's address. */
async function node2RealEverywhere(agents: AgentProcess[], attackerAddr: string): Promise<boolean> {
  for (const a of agents) {
    const recs = [...(await liveRecords(a, 'svc/api')), ...(await liveRecords(a, 'node/node2'))];
    if (recs.length !== 3 || recs.some((r) => JSON.stringify(r.value).includes(attackerAddr))) return false;
  }
  return true;
}

/** Stops node2 and starts it again (on `net`.2, joined to node1) with `args`, in place in `agents`. */
async function restartNode2(t: Teardown, agents: AgentProcess[], net: string, args: string[]): Promise<AgentProcess> {
  agents[1]!.proc.kill('SIGTERM');
  await agents[1]!.exited;
  agents[1] = await startAgent(t, [
    '--node',
    'node2',
    '--bind',
    `${net}.2`,
    '--bind-port',
    '0',
    ...FAST,
    ...args,
    '--join',
    agents[0]!.ready.gossip!,
  ]);
  return agents[1];
}

export async function keyHolderEpoch(t: Teardown, opts: { smoke: boolean }): Promise<AttackResult> {
  const net = '127.0.122';
  const key = generateKey();
  const dir = tempDirs(t, 'epoch');
  const args = (i: number) => ['--encrypt', key, '--data-dir', dir(i)];
  const agents = await startCluster(t, net, 3, args);
  const node2Addr = `${net}.2`;
  const attackerAddr = `${net}.99`;
  await api(agents[1]!, 'POST', '/v1/services', {
    service: 'api',
    id: 'api',
    addrs: [node2Addr],
    ports: { http: '8080/tcp' },
  });

  const store = await startKeyHolder(t, agents, key, attackerAddr);
  await eventually(
    'every agent sees api at node2',
    async () => (await Promise.all(agents.map((a) => liveRecords(a, 'svc/api/node2/')))).every((r) => r.length === 1),
    10_000,
  );

  await sendForgedEpochs(storeSender(store, agents), attackerAddr);
  const t0 = Date.now();
  // node2 writes after the attack; every agent must hear it, and see only node2's real records.
  await api(agents[1]!, 'POST', '/v1/services', {
    service: 'api2',
    id: 'api2',
    addrs: [node2Addr],
    ports: { http: '8081/tcp' },
  });
  const heard = () => node2RealEverywhere(agents, attackerAddr);
  let heardMs = -1;
  try {
    await eventually('node2 heard with its real records everywhere', heard, opts.smoke ? 10_000 : 15_000);
    heardMs = Date.now() - t0;
  } catch {
    // counted below
  }
  const forged = await attackerRecords(agents, attackerAddr);

  // node2 restarts from its data directory: its records must come back, and be heard.
  const again = await restartNode2(t, agents, net, args(2));
  const problems = again.lines
    .filter((l) => (l.level as number) >= 40 && /store|data dir|epoch|log/i.test(String(l.msg)))
    .map((l) => String(l.msg));
  let afterRestart = true;
  try {
    await eventually('node2 after its restart: its records everywhere', heard, 15_000);
  } catch {
    afterRestart = false;
  }
  const ownAfter = (await liveRecords(again, 'svc/api')).filter((r) => r.owner === 'node2').length;
  const held = heardMs >= 0 && forged === 0 && afterRestart && ownAfter === 2 && problems.length === 0;
  return {
    name: 'store: forged own document (epochs 2^53-1, +1 year, +10 min) and misplaced records by a key holder',
    held,
    forged_accepted: forged,
    detail: `node2 heard after the attack: ${heardMs >= 0 ? `yes, in ${heardMs} ms` : 'no'}; after a restart: ${afterRestart ? 'yes' : 'no'}, holding ${ownAfter}/2 of its endpoints${problems.length ? `; warnings: ${problems.join(' | ')}` : ''}`,
    figures: { store_forged_epoch_accepted: forged, store_owner_heard_ms: heardMs },
  };
}

// ------------------------------------------------------------------ rotation, retired key

export interface RotationReport {
  /** kv writes at each step (install, use, remove) read at every other agent. */
  replicatedAtEveryStep: boolean;
  steps: string[];
  /** Keyring file of an agent after the rotation: its keys, and its mode. */
  keyFile: { keys: string[]; mode: number };
  /** Store packets sealed with the retired key, sent and opened (an opened one is forged_accepted). */
  retiredSent: number;
  retiredOpened: number;
  /** A forged kv write sealed with the retired key got through. */
  retiredWriteSeen: boolean;
  /** The agent restarted after the rotation rejoined and replicates. */
  restartRejoined: boolean;
}

/** The retired key: `perAgent` store packets sealed with `retired` from `from` to every agent's store port; how many were sent and opened, and whether the forged write was seen. */
async function sendRetiredKeyPackets(
  t: Teardown,
  agents: AgentProcess[],
  retired: string,
  from: string,
  perAgent: number,
): Promise<{ sent: number; opened: number; seen: boolean }> {
  const before = await metric(agents, 'weft_store_rejected_total{reason="envelope_decrypt_failed"}');
  const oldRing = new Envelope({ label: '', keyring: new Keyring([retired]) });
  const sock = createSocket('udp4');
  t.teardown(() => void sock.close());
  await new Promise<void>((r) => sock.bind(0, from, r));
  for (const a of agents) {
    const to = endpointPort(a.ready.store!);
    for (let i = 0; i < perAgent; i++)
      sock.send(oldRing.seal(sharedWritePush('kv/retired', 'forged with a retired key')), to.port, to.addr);
  }
  await sleep(1500);
  const after = await metric(agents, 'weft_store_rejected_total{reason="envelope_decrypt_failed"}');
  const sent = perAgent * agents.length;
  const seen = (await Promise.all(agents.map((a) => liveRecords(a, 'kv/retired')))).some((r) => r.length > 0);
  return { sent, opened: sent - (after - before), seen };
}

/** Writes a fresh kv key at the agents in turn and checks every agent reads it: `steps` says for each whether it replicated. */
function replicationProbe(agents: AgentProcess[]): {
  writeAndRead: (step: string) => Promise<void>;
  steps: string[];
  replicated: () => boolean;
} {
  const steps: string[] = [];
  let replicated = true;
  let n = 0;
  const writeAndRead = async (step: string) => {
    const writer = agents[n % 3]!;
    const key = `rot/${++n}`;
    await api(writer, 'PUT', `/v1/kv/${key}`, step);
    try {
      await eventually(
        `${key} (${step}) at every agent`,
        async () => (await Promise.all(agents.map((a) => liveRecords(a, `kv/${key}`)))).every((r) => r.length === 1),
        10_000,
        50,
      );
      steps.push(`${step}: replicated`);
    } catch {
      replicated = false;
      steps.push(`${step}: NOT replicated`);
    }
  };
  return { writeAndRead, steps, replicated: () => replicated };
}

type KeyringStatus = { live: number; keys: { fingerprint: string; nodes: number; primaryOn: number }[] };

/** `weft keyring` run against node1's API, and a wait until every agent's keyring status satisfies a predicate. */
function keyringControl(agents: AgentProcess[]): {
  cli: (...argv: string[]) => Promise<string>;
  until: (what: string, pred: (s: KeyringStatus) => boolean) => Promise<unknown>;
} {
  const keyring = async (a: AgentProcess) => (await api(a, 'GET', '/v1/keyring')).body as KeyringStatus;
  const cli = async (...argv: string[]) => {
    const r = await runCli(['keyring', ...argv, '--api', agents[0]!.ready.api!]);
    if (r.code !== 0) throw new Error(`weft keyring ${argv[0]} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  const until = (what: string, pred: (s: KeyringStatus) => boolean) =>
    eventually(what, async () => (await Promise.all(agents.map(keyring))).every(pred), 15_000, 100);
  return { cli, until };
}

/**
 * 3 agents with keyring files rotate from key A to key B with weft keyring (install B,
 * use B, remove A) while writing; then store packets sealed with A are sent to every
 * agent, and one agent restarts from its keyring file.
 */
export async function rotation(t: Teardown, opts: { smoke: boolean }): Promise<RotationReport> {
  const net = '127.0.123';
  const A = generateKey();
  const B = generateKey();
  const dir = tempDirs(t, 'keyring');
  const keyFile = (i: number) => `${dir(i)}-keys.json`;
  const args = (i: number) => ['--encrypt', A, '--keyring-file', keyFile(i), '--data-dir', dir(i)];
  const agents = await startCluster(t, net, 3, args);
  const { writeAndRead, steps, replicated } = replicationProbe(agents);
  const { cli, until } = keyringControl(agents);
  const fp = (k: string) => createHash('sha256').update(Buffer.from(k, 'base64')).digest('hex').slice(0, 16);

  await writeAndRead('before');
  await cli('install', B);
  await until('B on 3/3', (s) => s.keys.some((k) => k.fingerprint === fp(B) && k.nodes === 3));
  await writeAndRead('after install');
  await cli('use', B);
  await until('B primary on 3', (s) => s.keys.some((k) => k.fingerprint === fp(B) && k.primaryOn === 3));
  await writeAndRead('after use');
  await cli('remove', A);
  await until('A gone everywhere', (s) => !s.keys.some((k) => k.fingerprint === fp(A)));
  await writeAndRead('after remove');

  const fileKeys = JSON.parse(readFileSync(keyFile(2), 'utf8')) as string[];
  const mode = statSync(keyFile(2)).mode & 0o777;

  const { sent, opened, seen } = await sendRetiredKeyPackets(t, agents, A, `${net}.99`, opts.smoke ? 3 : 20);

  // node2 restarts, reading its keyring file (the flags still say A).
  await restartNode2(t, agents, net, args(2));
  let rejoined: boolean;
  try {
    await eventually(
      'node2 sees 3 node records again',
      async () => (await liveRecords(agents[1]!, 'node/')).length === 3,
      15_000,
    );
    await writeAndRead('after restart');
    rejoined = replicated();
  } catch {
    rejoined = false;
  }
  return {
    replicatedAtEveryStep: replicated(),
    steps,
    keyFile: { keys: fileKeys, mode },
    retiredSent: sent,
    retiredOpened: opened,
    retiredWriteSeen: seen,
    restartRejoined: rejoined,
  };
}

export async function retiredKey(t: Teardown, opts: { smoke: boolean }): Promise<AttackResult> {
  const r = await rotation(t, opts);
  const forged = Math.max(0, r.retiredOpened) + (r.retiredWriteSeen ? 1 : 0);
  return {
    name: 'store: packets sealed with a key retired by weft keyring',
    held: forged === 0 && r.replicatedAtEveryStep && r.restartRejoined,
    forged_accepted: forged,
    detail: `${r.retiredSent} sealed with the retired key, ${r.retiredOpened} opened; rotation: ${r.steps.join(', ')}; restart from the keyring file rejoined: ${r.restartRejoined}`,
    figures: { store_retired_key_opened: r.retiredOpened },
  };
}

export async function runStoreAttacks(opts: { smoke: boolean }): Promise<AttackResult[]> {
  const out: AttackResult[] = [];
  for (const attack of [nonMemberForgery, keyHolderEpoch, retiredKey]) {
    const fns: (() => void | Promise<void>)[] = [];
    const t: Teardown = { teardown: (fn) => void fns.push(fn) };
    try {
      out.push(await attack(t, opts));
    } catch (err) {
      out.push({
        name: `store: ${attack.name}`,
        held: false,
        detail: `the attack could not run: ${(err as Error).message}`,
      });
    } finally {
      for (const fn of fns.reverse())
        await Promise.resolve()
          .then(fn)
          .catch(() => undefined);
    }
  }
  return out;
}

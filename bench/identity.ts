// `npm run bench -- identity [--smoke]`: what per-node identity (README "Identity") costs and holds.
//   sign_us, verify_us          median per store change (Ed25519 over the change, certificate
//                               learnt once, by reference after; verify without the cache)
//   sign_us_batched, verify_us_batched  the same per change of a burst of MAX_BATCH changes
//                               under one signature (own-signatures.ts), the receiver paying
//                               the signature once per burst
//   store_updates_per_s_*       local single-key updates per second, signed and unsigned
//                               (signing is on the write path; the ratio must be >= 0.7);
//                               store_updates_ratio_cpu the same by CPU time, load_avg_1m
//                               the machine's load when it was measured
//   sim_visible_p*_ms_*         simulated update-to-visible-everywhere time at N nodes, signed
//                               and unsigned (simulated time: it shows what larger messages
//                               do to the broadcast, not CPU, which the lines above measure)
//   forged_accepted             forged records seen in the real-agent attack
//                               (bench/hostile/identity.ts)
//   alive_bytes_*               one alive on the wire (20-byte metadata): unsigned, signed
//                               with the certificate's reference, signed with it whole
//   membership_forged_accepted  agents holding node2 other than alive at its own incarnation
//                               after a key holder forged its membership (bench/hostile/identity-membership.ts)
// The last line is the JSON of the figures.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../crdt-store/persist/open.js';
import { LocalStore, type LocalChange } from '../crdt-store/local-store.js';
import { MAX_BATCH, SignedChanges } from '../crdt-store/change-auth.js';
import { changeHash } from '../crdt-store/replica-doc.js';
import { amDecodeChange } from '../crdt-store/automerge.js';
import { makePki } from '../test/helpers/identity.js';
import { runStoreSim } from './store-sim.js';
import { runIdentityAttacks } from './hostile/identity.js';
import { SignedMembership } from '../membership/member-signer.js';
import { aliveBytes } from '../membership/core/member-auth.js';
import { encodedSize } from '../membership/codec.js';
import type { Alive } from '../membership/messages.js';

const { values } = parseArgs({ options: { smoke: { type: 'boolean' }, 'skip-attack': { type: 'boolean' } } });
const smoke = values.smoke ?? false;
const log = (l: string) => console.log(l);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const clock = () => performance.timeOrigin + performance.now();

const SIM_N = smoke ? 20 : 100;
const pki = makePki([]);
try {
  const names = Array.from({ length: SIM_N }, (_, i) => `node-${i}`);
  const t0 = performance.now();
  for (const n of names) pki.node(n);
  log(`PKI: CA and ${SIM_N} node certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s (openssl)`);
  const base = Date.now();
  const ids = new Map(names.map((n) => [n, pki.identity(n, base)]));

  // Sign and verify, per change.
  const writer = new LocalStore({ name: 'node-0', clock });
  const changes: LocalChange[] = [];
  writer.observe({ localChange: (c) => changes.push(c) });
  const count = smoke ? 300 : 2000;
  for (let i = 0; i < count; i++) writer.put(`svc/web/node-0/c${i % 100}`, { addr: '10.0.0.1', port: 8000 + i });
  const signer = new SignedChanges(ids.get('node-0')!);
  const signUs: number[] = [];
  const auths: Uint8Array[] = [];
  for (const c of changes) {
    const s = performance.now();
    auths.push(signer.sign(c.docId, c.change));
    signUs.push((performance.now() - s) * 1000);
  }
  const verifyUs: number[] = [];
  const verifier = new SignedChanges(ids.get('node-1')!, { cacheSize: 1 });
  // Records name the certificate by reference: it arrives once, beside them (a push or a sync).
  verifier.learnCerts([signer.certOf(auths[0]!)!], Date.now());
  let bad = 0;
  changes.forEach((c, i) => {
    const hash = changeHash(c.change)!;
    const actor = (amDecodeChange(c.change) as { actor: string }).actor;
    const s = performance.now();
    const r = verifier.verify(c.docId, c.change, hash, actor, auths[i], Date.now());
    verifyUs.push((performance.now() - s) * 1000);
    if (r !== 'node-0') bad++;
  });
  writer.close();
  const sign_us = +median(signUs).toFixed(1);
  const verify_us = +median(verifyUs).toFixed(1);
  log(`sign: ${sign_us} us, verify: ${verify_us} us per change (median of ${changes.length}; ${bad} failed)`);

  // A burst (own-signatures.ts): MAX_BATCH changes under one signature, per change, and a
  // receiver's check of them, which pays the signature once per batch.
  const batchSignUs: number[] = [];
  const batchVerifyUs: number[] = [];
  const batchVerifier = new SignedChanges(ids.get('node-1')!, { cacheSize: 1 });
  batchVerifier.learnCerts([signer.certOf(auths[0]!)!], Date.now());
  for (let at = 0; at + MAX_BATCH <= changes.length; at += MAX_BATCH) {
    const part = changes.slice(at, at + MAX_BATCH);
    const hashes = part.map((c) => changeHash(c.change)!);
    const actors = part.map((c) => (amDecodeChange(c.change) as { actor: string }).actor);
    let s = performance.now();
    const records = signer.signBatch(part[0]!.docId, hashes);
    batchSignUs.push(((performance.now() - s) * 1000) / MAX_BATCH);
    s = performance.now();
    part.forEach((c, i) => {
      if (batchVerifier.verify(c.docId, c.change, hashes[i]!, actors[i]!, records[i], Date.now()) !== 'node-0') bad++;
    });
    batchVerifyUs.push(((performance.now() - s) * 1000) / MAX_BATCH);
  }
  const sign_us_batched = +median(batchSignUs).toFixed(1);
  const verify_us_batched = +median(batchVerifyUs).toFixed(1);
  log(
    `in bursts of ${MAX_BATCH}: sign ${sign_us_batched} us, verify ${verify_us_batched} us per change (median of ${batchSignUs.length} bursts; ${bad} failed)`,
  );

  // Local update rate, signed and unsigned. As bench store's updates_per_s: one key per
  // update on a data directory (journal, not durable). Each run does the same fixed number
  // of updates (a run timed to a deadline does more Automerge work, and more journal
  // compactions, the faster it goes), after a warm-up of several runs (Automerge's wasm
  // and the JIT take seconds to settle). Runs go in pairs, signed and unsigned back to
  // back in alternating order; the ratio is the median of the pairs' ratios, so a change
  // of machine load between pairs moves both sides of a ratio alike. The ratio by CPU time
  // (process.cpuUsage) is printed too: on a loaded machine it is the steadier figure.
  const perRun = smoke ? 1000 : 3000;
  const rate = (auth: SignedChanges | undefined): { wall: number; cpu: number } => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-bench-identity-'));
    const s = openStore(dir, { name: 'node-0', clock, auth });
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < perRun; i++)
      s.store.put(`svc/web/node-0/c${i % 1000}`, { addr: '10.0.0.1', port: 8000 + (i % 977), i });
    // Own changes are signed in batches (crdt-store/own-signatures.ts): the last batch counts too.
    s.store.flushAuths();
    s.journal.flush();
    const cpu = process.cpuUsage(cpu0);
    const r = { wall: perRun / ((performance.now() - start) / 1000), cpu: perRun / ((cpu.user + cpu.system) / 1e6) };
    s.close();
    rmSync(dir, { recursive: true, force: true });
    return r;
  };
  const signedAuth = () => new SignedChanges(ids.get('node-0')!);
  for (let k = 0; k < (smoke ? 1 : 3); k++) {
    rate(undefined);
    rate(signedAuth());
  }
  const signed: { wall: number; cpu: number }[] = [];
  const unsigned: { wall: number; cpu: number }[] = [];
  for (let k = 0; k < (smoke ? 2 : 9); k++) {
    if (k % 2 === 0) unsigned.push(rate(undefined));
    signed.push(rate(signedAuth()));
    if (k % 2 === 1) unsigned.push(rate(undefined));
  }
  const store_updates_per_s_unsigned = Math.round(median(unsigned.map((r) => r.wall)));
  const store_updates_per_s_signed = Math.round(median(signed.map((r) => r.wall)));
  const pairRatio = (f: 'wall' | 'cpu') => +median(signed.map((s, i) => s[f] / unsigned[i]![f])).toFixed(3);
  const ratio = pairRatio('wall');
  const store_updates_ratio_cpu = pairRatio('cpu');
  const load_avg_1m = +loadavg()[0]!.toFixed(2);
  log(
    `local updates: ${store_updates_per_s_signed}/s signed, ${store_updates_per_s_unsigned}/s unsigned (ratio ${ratio}; by CPU time ${store_updates_ratio_cpu}; load average ${load_avg_1m})`,
  );

  // Simulated visibility at N nodes.
  const simOpts = { nodes: SIM_N, updates: smoke ? 30 : 200, intervalMs: 50, linkMs: 1, idleS: 2, log };
  const plain = runStoreSim(simOpts);
  const withId = runStoreSim({
    ...simOpts,
    auth: (name) => new SignedChanges(ids.get(name)!, { clockOffsetMs: base }),
  });
  log(
    `sim N=${SIM_N}: visible p50/p99 ${withId.visible_p50_ms}/${withId.visible_p99_ms} ms signed, ${plain.visible_p50_ms}/${plain.visible_p99_ms} ms unsigned; bytes per node per update ${withId.bytes_per_node_per_update} vs ${plain.bytes_per_node_per_update}`,
  );

  // Signed membership on the wire.
  const member = new SignedMembership(ids.get('node-0')!);
  const alive: Alive = {
    t: 'alive',
    incarnation: Math.floor(Date.now() / 1000),
    node: { name: 'node-0', addr: '10.0.0.1', port: 7946 },
    meta: new Uint8Array(20),
  };
  const aliveSig = member.sign('alive', aliveBytes(alive));
  const alive_bytes_unsigned = encodedSize(alive);
  const alive_bytes_signed_ref = encodedSize({ ...alive, sig: aliveSig, cert: member.ownCert(false) });
  const alive_bytes_signed_full = encodedSize({ ...alive, sig: aliveSig, cert: member.ownCert(true) });
  log(
    `alive on the wire: ${alive_bytes_unsigned} bytes unsigned, ${alive_bytes_signed_ref} signed (certificate by reference), ${alive_bytes_signed_full} with the whole certificate`,
  );

  // The real-agent attacks.
  let forged_accepted = 0;
  let membership_forged_accepted = 0;
  let attacks_held = 0;
  if (!values['skip-attack']) {
    for (const r of await runIdentityAttacks({ smoke })) {
      log(`${r.held ? 'held' : 'NOT HELD'}: ${r.name}: ${r.detail ?? ''}`);
      const m = r.figures?.membership_forged_accepted;
      if (m !== undefined) membership_forged_accepted += m;
      else forged_accepted += r.forged_accepted ?? 0;
      if (r.held) attacks_held++;
    }
  }
  console.log(
    JSON.stringify({
      sign_us,
      verify_us,
      sign_us_batched,
      verify_us_batched,
      verify_failed: bad,
      store_updates_per_s_signed,
      store_updates_per_s_unsigned,
      store_updates_ratio: ratio,
      store_updates_ratio_cpu,
      load_avg_1m,
      sim_nodes: SIM_N,
      sim_visible_p50_ms_signed: withId.visible_p50_ms,
      sim_visible_p99_ms_signed: withId.visible_p99_ms,
      sim_visible_p50_ms_unsigned: plain.visible_p50_ms,
      sim_visible_p99_ms_unsigned: plain.visible_p99_ms,
      sim_visible_p99_ratio: +(withId.visible_p99_ms / plain.visible_p99_ms).toFixed(3),
      sim_bytes_per_node_per_update_signed: withId.bytes_per_node_per_update,
      sim_bytes_per_node_per_update_unsigned: plain.bytes_per_node_per_update,
      alive_bytes_unsigned,
      alive_bytes_signed_ref,
      alive_bytes_signed_full,
      attacks_held,
      forged_accepted,
      membership_forged_accepted,
    }),
  );
} finally {
  pki.cleanup();
}

// Moving a running cluster from shared-key-only to identity (issue 13), with real agents:
// during the window (tls.acceptUnsigned) a node without a certificate and nodes with one
// replicate both ways and every node keeps answering DNS for every service; closing the
// window with SIGHUP makes the unsigned node's new writes refused (and counted) there.
// Also: a renewed certificate is taken with SIGHUP, and signs from then on.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startAgent, type AgentProcess, resolvesA } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';
import { createNodeCert } from './tls-files.js';
import { FAST, metric } from '../bench/hostile/store.js';

const post = (x: AgentProcess, body: unknown) =>
  fetch(`${x.ready.api}/v1/services`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

t.test(
  'a mixed cluster in the migration window serves DNS; closing the window refuses unsigned writes',
  { skip: skipUnless({ commands: ['openssl'] }) },
  async (t) => {
    const pki = makePki(['m1', 'm3']);
    t.teardown(() => pki.cleanup());
    const conf = join(pki.dir, 'm1.yaml');
    const writeConf = (acceptUnsigned: boolean) =>
      writeFileSync(
        conf,
        `tls:\n  caFile: ${pki.ca.cert}\n  certFile: ${pki.nodes.get('m1')!.cert}\n  keyFile: ${pki.nodes.get('m1')!.key}\n  acceptUnsigned: ${acceptUnsigned}\n`,
      );
    writeConf(true);
    const net = '127.0.133';
    const m1 = await startAgent(t, [
      '--node',
      'm1',
      '--bind',
      `${net}.1`,
      '--bind-port',
      '0',
      ...FAST,
      '--config',
      conf,
    ]);
    const m2 = await startAgent(t, [
      '--node',
      'm2',
      '--bind',
      `${net}.2`,
      '--bind-port',
      '0',
      ...FAST,
      '--join',
      m1.ready.gossip!,
    ]);
    const m3files = pki.nodes.get('m3')!;
    const m3 = await startAgent(t, [
      '--node',
      'm3',
      '--bind',
      `${net}.3`,
      '--bind-port',
      '0',
      ...FAST,
      '--join',
      m1.ready.gossip!,
      '--tls-ca-file',
      pki.ca.cert,
      '--tls-cert-file',
      m3files.cert,
      '--tls-key-file',
      m3files.key,
      '--tls-accept-unsigned',
      'true',
    ]);
    const all = [m1, m2, m3];

    t.equal((await post(m1, { service: 'mig', id: 'a', addrs: ['10.9.0.1'] })).status, 201);
    t.equal((await post(m2, { service: 'mig', id: 'b', addrs: ['10.9.0.2'] })).status, 201);
    const ms = await eventually(
      'every node answers mig.svc with the signed and the unsigned endpoint',
      async () =>
        (await Promise.all(all.map((a) => resolvesA(a, 'mig.svc.weft.internal')))).every(
          (r) => r.join() === '10.9.0.1,10.9.0.2',
        ),
      15_000,
    );
    t.pass(`in the window, every node answers both endpoints (${ms} ms)`);

    // Renewal: a new certificate for m1 in place of the old files, then SIGHUP.
    const renewDir = join(pki.dir, 'renew');
    mkdirSync(renewDir);
    const renewed = createNodeCert({ node: 'm1', dir: renewDir, ca: pki.ca, days: 30 });
    copyFileSync(renewed.cert, pki.nodes.get('m1')!.cert);
    copyFileSync(renewed.key, pki.nodes.get('m1')!.key);
    // Close the window at m1 in the same reload.
    writeConf(false);
    m1.proc.kill('SIGHUP');
    const reloaded = await m1.waitForLine((l) => String(l.msg).startsWith('SIGHUP: config reloaded'));
    t.match(String(reloaded.msg), /tls\.acceptUnsigned/, 'the window closed at run time');
    t.match(String(reloaded.msg), /node certificate/, 'the renewed certificate taken');

    // Signed by the renewed certificate: still taken by m3 (and by m2, which checks nothing).
    t.equal((await post(m1, { service: 'renewed', id: 'a', addrs: ['10.9.1.1'] })).status, 201);
    await eventually(
      "m1's write after renewal reaches m2 and m3",
      async () =>
        (await Promise.all([m2, m3].map((a) => resolvesA(a, 'renewed.svc.weft.internal')))).every(
          (r) => r.join() === '10.9.1.1',
        ),
      15_000,
    );
    t.pass('a change signed with the renewed certificate is taken');

    // m2 (no certificate) writes after the window closed at m1: m3 (window open) takes it, m1 refuses it.
    const before = await metric([m1], 'weft_store_rejected_total{reason="change_unsigned"}');
    t.equal((await post(m2, { service: 'late', id: 'b', addrs: ['10.9.2.2'] })).status, 201);
    await eventually(
      'm3 answers late.svc',
      async () => (await resolvesA(m3, 'late.svc.weft.internal')).join() === '10.9.2.2',
      15_000,
    );
    await eventually(
      'm1 counts refused unsigned changes',
      async () => (await metric([m1], 'weft_store_rejected_total{reason="change_unsigned"}')) > before,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 2000)); // repair rounds: it must not arrive another way
    t.same(
      await resolvesA(m1, 'late.svc.weft.internal'),
      [],
      "m1 does not take m2's unsigned write once its window is closed",
    );
    t.same(await resolvesA(m1, 'mig.svc.weft.internal'), ['10.9.0.1', '10.9.0.2'], 'and keeps answering what it held');
  },
);

// System test (root, nft, ip): the kernel reads of the load balancer's start are one round
// of process starts that can run before it (LbDriver.readKernel, which the agent begins
// while membership and the store start), and the first pass then starts only the writes it
// needs: none at all on a restart that finds its rules in place. A later full check reads
// the table and the addresses once each. Every `nft` and `ip` the test process starts goes
// through a logging shim on PATH.
import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore } from '../crdt-store/local-store.js';
import { endpoint } from '../test/helpers/dns.js';
import { NetLab } from '../test/helpers/netns.js';
import { skipUnless } from '../test/helpers/system.js';
import { run } from '../base/exec.js';
import { LbDriver } from './driver.js';

const skip = skipUnless({ root: true, commands: ['nft', 'ip'] });

/** Shims for `nft` and `ip` that log each command line (namespace options left out), then run the real one. */
async function shimmed(t: Test): Promise<{ take: () => string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-shim-'));
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  for (const cmd of ['nft', 'ip']) {
    const real = (await run(['sh', '-c', `command -v ${cmd}`])).trim();
    writeFileSync(join(dir, cmd), `#!/bin/sh\necho "${cmd} $*" >> ${log}\nexec ${real} "$@"\n`);
    chmodSync(join(dir, cmd), 0o755);
  }
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path}`;
  t.teardown(() => {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    /** The commands since the last take: `ip netns exec` wrappers and `-n <ns>` dropped. */
    take() {
      const lines = readFileSync(log, 'utf8').split('\n');
      writeFileSync(log, '');
      return lines
        .filter((l) => l !== '' && !l.startsWith('ip netns exec '))
        .map((l) => l.replace(/^ip -n \S+ /, 'ip '))
        .sort();
    },
  };
}

t.test('the start reads the kernel in one early round; the first pass only writes', { skip }, async (t) => {
  const lab = await NetLab.create(t, { tag: 'k' });
  const host = await lab.addHost(1);
  const calls = await shimmed(t);
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  store.put(
    'svc/web/n1/b1',
    endpoint('web', ['10.77.0.11'], { vips: [{ vip: 'web', port: 80, proto: 'tcp', targetPort: 8080 }] }),
  );
  const opts = { source: store, datapath: 'nft' as const, netns: host.ns };

  // A fresh namespace: no table, no VIP interface.
  let kernel = LbDriver.readKernel(opts);
  t.ok(kernel, 'as root, with datapath nft, the reads begin');
  await kernel;
  t.same(
    calls.take(),
    ['ip -j addr show', 'nft -j list table inet weft', 'nft -j list tables'],
    'the early round: the probe, our table and every address, at once',
  );
  let lb = await LbDriver.start({ ...opts, kernel });
  t.teardown(() => lb.cleanup());
  const first = calls.take();
  t.notOk(
    first.some((l) => / (list|show)\b/.test(l)),
    `the first pass reads nothing again (it ran: ${first.join('; ')})`,
  );
  t.ok(first.includes('nft -f -'), 'it writes the table');
  const vip = lb.vips.get('web')!;
  t.match(
    await run(['ip', '-j', 'addr', 'show', 'dev', 'weft-vip0'], { netns: host.ns }),
    vip,
    'the VIP is on the interface',
  );
  await lb.stop();

  // A restart: the rules and the address are in place.
  calls.take();
  kernel = LbDriver.readKernel(opts);
  await kernel;
  calls.take();
  lb = await LbDriver.start({ ...opts, kernel });
  t.same(calls.take(), [], 'a restart that finds its rules in place starts no process');
  t.equal(lb.vips.get('web'), vip, 'and keeps the VIP');

  // The periodic full check: one round of reads, this node's addresses with the interface's.
  await lb.reconcileNow(true);
  t.same(
    calls.take(),
    ['ip -j addr show', 'nft -j list table inet weft'],
    'a full check reads twice, and writes nothing',
  );
});

t.test('no early read where the nft datapath cannot be chosen', async (t) => {
  t.equal(LbDriver.readKernel({ datapath: 'userspace' }), undefined, 'datapath userspace');
  if (process.getuid?.() !== 0) t.equal(LbDriver.readKernel({ datapath: 'auto' }), undefined, 'not root');
});

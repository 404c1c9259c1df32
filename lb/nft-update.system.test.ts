// System test (root, nft, ip): on a large table, a store change of one backend reaches the
// kernel as that VIP's commands only (issue 17), as `nft monitor` in the namespace sees
// them; and a full pass still repairs what was changed by hand.
import t from 'tap';
import { type ChildProcess } from 'node:child_process';
import { LocalStore } from '../crdt-store/local-store.js';
import { endpoint } from '../test/helpers/dns.js';
import { eventually } from '../test/helpers/eventually.js';
import { NetLab } from '../test/helpers/netns.js';
import { skipUnless } from '../test/helpers/system.js';
import { LbDriver } from './driver.js';

const skip = skipUnless({ root: true, commands: ['nft', 'ip'] });
const VIPS = 500;
const PER_VIP = 10;
const TARGET = 250;

const rec = (v: number, addr: string, targetPort: number) =>
  endpoint(`s${v}`, [addr], { vips: [{ vip: `vip-${v}`, port: 80, proto: 'tcp', targetPort }] });

/** What `nft monitor` prints from now until the returned function is called (its lines, comments left out). */
async function monitor(lab: NetLab, ns: string): Promise<() => Promise<string[]>> {
  const p: ChildProcess = lab.spawn(ns, ['nft', 'monitor']);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  // Nothing to wait on: `nft monitor` prints nothing until there are events. A probe
  // transaction of our own marks the moment it listens.
  const probe = `table inet probe${process.pid} {\n}\ndelete table inet probe${process.pid}\n`;
  await eventually(
    'nft monitor listening',
    async () => {
      await lab.exec(ns, ['nft', '-f', '-'], probe);
      return out.includes(`probe${process.pid}`);
    },
    10_000,
    50,
  );
  const after = () => out.split(`delete table inet probe${process.pid}`).at(-1)!;
  return async () => {
    // Its output reaches us a little after the transaction: wait for the transaction's
    // generation line (the first one after the probe's delete is the probe's own), then a
    // little longer, so that a second transaction would show too.
    await eventually('the monitor caught up', () => (after().match(/# new generation/g) ?? []).length >= 2, 10_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    p.kill('SIGKILL');
    return after()
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
  };
}

t.test(`one backend of ${VIPS} VIPs x ${PER_VIP} changes: only that VIP is written`, { skip }, async (t) => {
  const lab = await NetLab.create(t, { tag: 'u' });
  const host = await lab.addHost(1);
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  store.batch(() => {
    for (let v = 0; v < VIPS; v++)
      for (let b = 0; b < PER_VIP; b++)
        store.put(`svc/s${v}/n1/${b}`, rec(v, `10.${b + 1}.${v >> 8}.${v & 255}`, 8080));
  });
  const lb = await LbDriver.start({ source: store, datapath: 'nft', netns: host.ns });
  t.teardown(() => lb.cleanup());
  const vip = lb.vips.get(`vip-${TARGET}`)!;

  const stop = await monitor(lab, host.ns);
  const passes = lb.passes;
  store.put(`svc/s${TARGET}/n1/1`, rec(TARGET, '10.99.1.244', 9000));
  await eventually('a pass after the put', () => lb.passes > passes, 10_000, 5);
  const lines = await stop();

  t.ok(lines.length > 0 && lines.length <= 12, `a handful of commands reached the kernel (${lines.length})`);
  const rules = lines.filter((l) => l.startsWith('add rule'));
  t.equal(rules.length, 1, 'one rule written');
  t.match(rules[0], `comment "vip-${TARGET}:80/tcp"`, 'the changed VIP`s');
  t.match(rules[0], '10.99.1.244 . 9000', 'with the new backend');
  t.notOk(
    lines.some((l) => /(add|delete|flush) table/.test(l)),
    'the table was not rewritten',
  );
  const vmap = lines.filter((l) => / element inet weft vips /.test(l));
  t.ok(vmap.length > 0 && vmap.every((l) => l.includes(`{ ${vip} . tcp . 80 `)), 'only its map element changed');
  const hairpin = lines.filter((l) => / element inet weft hairpin /.test(l));
  t.same(
    hairpin.map((l) => l.replace(/ \{ .*/, '')).sort(),
    ['add element inet weft hairpin', 'delete element inet weft hairpin'],
    'the old backend`s hairpin element out, the new one`s in',
  );

  const listed = await lab.exec(host.ns, ['nft', 'list', 'map', 'inet', 'weft', 'vips']);
  t.equal((listed.match(/goto v-/g) ?? []).length, VIPS, 'every VIP still in the map');

  await t.test('a full pass still repairs a VIP removed from the map by hand', async (t) => {
    const other = lb.vips.get('vip-3')!;
    await lab.exec(host.ns, ['nft', 'delete', 'element', 'inet', 'weft', 'vips', `{ ${other} . tcp . 80 }`]);
    await lb.reconcileNow(true);
    const again = await lab.exec(host.ns, ['nft', 'list', 'map', 'inet', 'weft', 'vips']);
    t.equal((again.match(/goto v-/g) ?? []).length, VIPS, 'restored');
    t.match(again, `${other} . tcp . 80 : goto v-`);
  });
});

t.test("this node's addresses, re-read after a pass, still refuse a VIP on one of them", { skip }, async (t) => {
  const lab = await NetLab.create(t, { tag: 'l' });
  const host = await lab.addHost(1);
  const store = new LocalStore({ name: 'n1', clock: () => Date.now() });
  store.put(
    'svc/lit/n1/a',
    endpoint('lit', ['10.77.0.9'], { vips: [{ vip: '10.88.0.5', port: 80, proto: 'tcp', targetPort: 80 }] }),
  );
  const lb = await LbDriver.start({
    source: store,
    datapath: 'nft',
    netns: host.ns,
    vipAllow: ['10.88.0.0/24'],
    resyncMs: 600_000,
  });
  t.teardown(() => lb.cleanup());
  const map = () => lab.exec(host.ns, ['nft', 'list', 'map', 'inet', 'weft', 'vips']);
  t.match(await map(), '10.88.0.5 . tcp . 80', 'programmed while no interface has it');
  await lab.exec(host.ns, ['ip', 'addr', 'add', '10.88.0.5/32', 'dev', 'lo']);
  // Addresses are re-read at most every localAddrsRefreshMs (5 s), after a pass. One change
  // after that: its pass runs on the old addresses, the re-read finds the new one and asks
  // for another pass, with no further change. (Timeouts are long for a loaded host: without
  // that pass, nothing would happen for the 10 minutes of resyncMs.)
  await new Promise((r) => setTimeout(r, 5500));
  store.put(
    'svc/other/n1/a',
    endpoint('other', ['10.77.0.8'], { vips: [{ vip: 'other', port: 80, proto: 'tcp', targetPort: 80 }] }),
  );
  await eventually(
    'refused as an address of this node',
    () => lb.status().refused.some((r) => r.key === '10.88.0.5:80/tcp' && r.reason === 'local_address'),
    10_000,
    50,
  );
  await eventually('out of the map', async () => !(await map()).includes('10.88.0.5 . tcp'), 10_000, 50);
  t.pass('the VIP left the map');
});

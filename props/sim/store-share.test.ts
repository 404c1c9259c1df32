// StoreClusterOptions.shareDocs (crdt-store/doc-pool.ts) and shareMessages (each packet's
// and stream's message handed to its receiver whole with its size, its bytes made only when
// read) must not change what the stores do: for one seed, every store output (time, sender,
// destination, bytes) in the same order as without sharing, through writes, loss, a crash and
// a restart from disk.
import { createHash } from 'node:crypto';
import t from 'tap';
import { makeConfig } from '../../membership/core/config.js';
import { StoreCluster } from './store-cluster.js';

function run(shareDocs: boolean, persist: boolean, shareMessages = false) {
  const h = createHash('sha256');
  let outputs = 0;
  const withMessage = { packet: 0, stream: 0 };
  /** A shared output's size, and the length of its bytes (made when read). */
  const sizes: [number, number][] = [];
  const c = new StoreCluster({
    nodes: 10,
    seed: 5,
    config: makeConfig('lan'),
    persist,
    shareDocs,
    shareMessages,
    hooks: {
      onOutput: (host, o, now) => {
        outputs++;
        if (o.shared) {
          withMessage[o.kind]++;
          sizes.push([o.shared.size, o.bytes.length]);
        }
        h.update(`${now}|${host.id}|${o.kind}|${o.to.addr}:${o.to.port}|`);
        h.update(o.bytes);
      },
    },
  });
  const names = c.names();
  names.forEach((n, i) => {
    c.write(n, `node/${n}`, { addr: `192.168.0.${i}` });
    c.write(n, `svc/web/${n}/c1`, { port: 80 + i });
  });
  c.run(3000);
  c.membership.network.setDefault({ loss: 0.05 });
  names.forEach((n, i) => c.write(n, `kv/k${i % 3}`, i, { shared: true }));
  c.write(names[2]!, `svc/web/${names[2]}/c1`, { port: 1 });
  c.crash(names[4]!);
  c.run(4000);
  c.membership.network.setDefault({ loss: 0 });
  c.restart(names[4]!);
  c.write(names[4]!, `svc/web/${names[4]}/c2`, { port: 2 });
  c.run(8000);
  const view = c.upNodes().map((n) => JSON.stringify(c.store(n).entries('', { view: 'all' })));
  return {
    outputs,
    hash: h.digest('hex'),
    view,
    agree: c.storesAgree(),
    pool: c.docPool?.stats(),
    withMessage,
    sizes,
  };
}

for (const persist of [false, true]) {
  t.test(`the same outputs in the same order with and without shared documents (persist: ${persist})`, async (t) => {
    const plain = run(false, persist);
    const shared = run(true, persist);
    t.ok(plain.outputs > 500, `${plain.outputs} outputs`);
    t.equal(shared.outputs, plain.outputs);
    t.equal(shared.hash, plain.hash, 'every output byte for byte');
    t.same(shared.view, plain.view, 'every store holds the same records');
    t.ok(plain.agree && shared.agree, 'and the stores agree');
    t.ok(shared.pool!.hits > 0, `pool: ${JSON.stringify(shared.pool)}`);
  });
}

t.test('the same outputs in the same order when messages are handed on whole', async (t) => {
  const plain = run(true, false);
  const shared = run(true, false, true);
  t.equal(shared.outputs, plain.outputs, `${plain.outputs} outputs`);
  t.equal(shared.hash, plain.hash, 'every output byte for byte');
  t.same(shared.view, plain.view, 'every store holds the same records');
  t.ok(shared.agree, 'and the stores agree');
  t.same(plain.withMessage, { packet: 0, stream: 0 });
  t.ok(
    shared.withMessage.packet > 400 && shared.withMessage.stream > 0,
    `handed on whole: ${JSON.stringify(shared.withMessage)}`,
  );
  const wrong = shared.sizes.filter(([size, length]) => size !== length);
  t.same(wrong, [], `each shared message's size is its bytes' length (${shared.sizes.length} compared)`);
});

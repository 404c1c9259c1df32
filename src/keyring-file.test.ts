// The keyring file and the rules of cluster keyring changes (no agents: see keyring.e2e.test.ts).
import t from 'tap';
import { statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { generateKey, Keyring } from '../membership/keyring.js';
import { KeyringFileError, readKeyringFile, reconcileKeyring, startingKeys, writeKeyringFile } from './keyring-file.js';
import { countKeys, fingerprint, openKeys, planOp, sealKeys } from './keyring-sync.js';

const [A, B, C] = [generateKey(), generateKey(), generateKey()];

t.test('keyring file: written 0600 and atomically, read back, errors say what is wrong', async (t) => {
  const dir = t.testdir();
  const f = `${dir}/keys.json`;
  t.equal(readKeyringFile(f), undefined, 'no file: undefined');
  writeKeyringFile(f, [A, B]);
  t.equal(statSync(f).mode & 0o777, 0o600);
  t.same(readKeyringFile(f), [A, B]);
  chmodSync(f, 0o644);
  readKeyringFile(f);
  t.equal(statSync(f).mode & 0o777, 0o600, 'a readable file is closed again');
  for (const [text, why] of [
    ['{nope', /not JSON/],
    ['nope', /key 1: encryption key must be 32 bytes/],
    ['[]', /non-empty JSON list/],
    ['["abc"]', /key 1: encryption key must be 32 bytes/],
    [`["${A}", 3]`, /non-empty JSON list/],
  ] as const) {
    writeFileSync(f, text);
    t.throws(() => readKeyringFile(f), why);
  }
  writeFileSync(f, `${A}\n`);
  t.same(readKeyringFile(f), [A], 'a lone key, as `weft keygen --out` writes it, is a keyring of one');
  let err: unknown;
  try {
    writeKeyringFile(`${dir}/missing/keys.json`, [A]);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof KeyringFileError, `a file that cannot be written: ${(err as Error)?.message}`);
});

t.test('starting keys: the file wins over flags (as Consul); without a file, flags seed it', async (t) => {
  const dir = t.testdir();
  const f = `${dir}/keys.json`;
  t.same(startingKeys({ keys: [A], keyFile: '' }), { keys: [A], ignored: false });
  t.same(startingKeys({ keys: [A], keyFile: f }), { keys: [A], ignored: false });
  t.same(readKeyringFile(f), [A], 'seeded from the flags');
  writeKeyringFile(f, [B]);
  t.same(startingKeys({ keys: [A], keyFile: f }), { keys: [B], ignored: true });
  t.same(
    startingKeys({ keys: [], keyFile: f }),
    { keys: [B], ignored: false },
    'keys from the file alone: none on the command line',
  );
  t.notOk(existsSync(`${dir}/none.json`));
  t.same(startingKeys({ keys: [], keyFile: `${dir}/none.json` }), { keys: [], ignored: false });
});

t.test('reconcile: add, switch, drop, in that order', async (t) => {
  const ring = new Keyring([A, B]);
  t.ok(reconcileKeyring(ring, [C, B]));
  t.same(ring.keys(), [C, B]);
  t.notOk(reconcileKeyring(ring, [C, B]), 'no change the second time');
});

t.test('cluster keyring ops: use needs every live node, remove never a primary; the record is sealed', async (t) => {
  const fa = fingerprint(A);
  const fb = fingerprint(B);
  const live = ['n1', 'n2', 'n3'];
  const held = new Map([
    ['n1', { primary: fa, keys: [fa, fb] }],
    ['n2', { primary: fa, keys: [fa, fb] }],
    ['n3', { primary: fa, keys: [fa] }],
  ]);
  const counts = countKeys(live, held);
  t.same(
    counts.find((c) => c.fingerprint === fb),
    { fingerprint: fb, nodes: 2, primaryOn: 0, missing: ['n3'] },
  );
  t.same(planOp('install', B, [A], live, counts), { keys: [A, B] });
  t.match(planOp('use', B, [A, B], live, counts), { refused: /installed on 2 of 3 live nodes \(missing on n3\)/ });
  held.set('n3', { primary: fa, keys: [fa, fb] });
  t.same(planOp('use', B, [A, B], live, countKeys(live, held)), { keys: [B, A] });
  t.match(planOp('remove', A, [A, B], live, countKeys(live, held)), {
    refused: /is the primary key: use another key first/,
  });
  t.match(planOp('remove', A, [B, A], live, countKeys(live, held)), {
    refused: /still the primary key on 3 live node/,
  });
  for (const n of live) held.set(n, { primary: fb, keys: [fb, fa] });
  t.same(planOp('remove', A, [B, A], live, countKeys(live, held)), { keys: [B] });

  const rec = sealKeys(new Keyring([A]), [A, B], 'n1', 1);
  t.notOk(JSON.stringify(rec).includes(A) || JSON.stringify(rec).includes(B), 'no key in the clear');
  t.same(openKeys(new Keyring([C, A]), rec), [A, B], 'opens with any installed key');
  t.equal(openKeys(new Keyring([C]), rec), undefined, 'not without one');
});

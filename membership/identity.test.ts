// The identity checks (membership/identity.ts) on real certificates made by `weft tls`.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CertVerifier, loadIdentity, makeIdentity, parseCa, verifySignature } from './identity.js';
import { makePki } from '../test/helpers/identity.js';
import { skipUnless } from '../test/helpers/system.js';

const skip = skipUnless({ commands: ['openssl'] });

t.test('a node certificate binds its name; the CA checks chain, name, validity and revocation', { skip }, async (t) => {
  const pki = makePki(['n1', 'n2']);
  const other = makePki(['n1']);
  t.teardown(() => (pki.cleanup(), other.cleanup()));
  for (const f of [pki.ca.cert, pki.ca.key, pki.nodes.get('n1')!.cert, pki.nodes.get('n1')!.key])
    t.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`);

  const now = Date.now();
  const id = loadIdentity(
    { caFile: pki.ca.cert, certFile: pki.nodes.get('n1')!.cert, keyFile: pki.nodes.get('n1')!.key },
    'n1',
    now,
  );
  t.equal(id.name, 'n1');
  const sig = id.sign('test', Buffer.from('hello'));
  t.ok(verifySignature(id.cert.publicKey, 'test', Buffer.from('hello'), sig), 'own signature verifies');
  t.notOk(verifySignature(id.cert.publicKey, 'other', Buffer.from('hello'), sig), 'not in another domain');
  t.notOk(verifySignature(id.cert.publicKey, 'test', Buffer.from('hellO'), sig), 'not over other bytes');
  t.notOk(verifySignature(id.cert.publicKey, 'test', Buffer.from('hello'), sig.subarray(1)), 'not a short signature');

  const v = new CertVerifier(parseCa(readFileSync(pki.ca.cert)));
  const der = (p: string) => new Uint8Array(new X509Certificate(readFileSync(p)).raw);
  const n2 = v.check(der(pki.nodes.get('n2')!.cert), now);
  t.equal(typeof n2 === 'object' && n2.name, 'n2', 'n2 trusted');
  t.equal(v.check(der(other.nodes.get('n1')!.cert), now), 'not_issued', "another CA's certificate for n1 is not taken");
  t.equal(v.check(der(pki.ca.cert), now), 'not_node_cert', 'the CA certificate is no node certificate');
  t.equal(v.check(Buffer.from('garbage'), now), 'bad_cert');
  t.equal(v.check(der(pki.nodes.get('n2')!.cert), now + 400 * 86400_000), 'expired', 'expired a year on');
  t.equal(v.check(der(pki.nodes.get('n2')!.cert), now - 86400_000), 'not_yet_valid');
  v.revoke('n2');
  t.equal(v.check(der(pki.nodes.get('n2')!.cert), now), 'revoked');

  // The loader says what is wrong.
  const files = { caFile: pki.ca.cert, certFile: pki.nodes.get('n1')!.cert, keyFile: pki.nodes.get('n1')!.key };
  t.throws(() => loadIdentity(files, 'n2', now), /is for node "n1", not "n2"/);
  t.throws(() => loadIdentity({ ...files, keyFile: pki.nodes.get('n2')!.key }, 'n1', now), /does not belong/);
  t.throws(() => loadIdentity({ ...files, caFile: other.ca.cert }, 'n1', now), /not issued by this cluster's CA/);
  t.throws(() => loadIdentity({ ...files, caFile: pki.nodes.get('n2')!.cert }, 'n1', now), /not a CA certificate/);
  t.throws(() => loadIdentity(files, 'n1', now + 400 * 86400_000), /expired; renew it/);
  t.throws(
    () => loadIdentity({ ...files, certFile: join(pki.dir, 'absent.pem') }, 'n1', now),
    /cannot read tls.certFile .*absent.pem: ENOENT/,
  );
});

t.test(
  'a certificate the holder of the CA key did not sign is refused, even with the right name',
  { skip },
  async (t) => {
    const pki = makePki(['n1']);
    t.teardown(() => pki.cleanup());
    // A self-signed leaf claiming CN=n1 (what a node holding only the cluster key could make).
    const key = join(pki.dir, 'mallory.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
    const pem = execFileSync('openssl', ['req', '-x509', '-new', '-key', key, '-subj', '/CN=n1', '-days', '30']);
    writeFileSync(join(pki.dir, 'mallory.pem'), pem);
    t.throws(
      () =>
        makeIdentity({
          caPem: readFileSync(pki.ca.cert),
          certPem: pem,
          keyPem: readFileSync(key),
          name: 'n1',
          now: Date.now(),
        }),
      /not issued/,
    );
  },
);

t.test('weft tls refuses to overwrite and checks the node name', { skip }, async (t) => {
  const pki = makePki(['n1']);
  t.teardown(() => pki.cleanup());
  const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');
  const run = (...args: string[]) => {
    try {
      return { code: 0, out: execFileSync(process.execPath, [cli, 'tls', ...args], { stdio: 'pipe' }).toString() };
    } catch (e) {
      const err = e as { status: number; stderr: Buffer };
      return { code: err.status, out: err.stderr.toString() };
    }
  };
  t.match(run('cert', 'create', '--node', 'n1', '--dir', pki.dir), { code: 1, out: /exists/ });
  t.match(run('cert', 'create', '--node', 'a/O=x', '--dir', pki.dir), { code: 1, out: /node name/ });
  t.match(run('cert', 'create', '--dir', pki.dir), { code: 2, out: /--node NAME/ });
  t.match(run('cert', 'create', '--node', 'n3', '--dir', pki.dir), { code: 0, out: /n3.pem/ });
});

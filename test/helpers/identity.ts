// Test identities: a real CA and real node certificates made by `weft tls`'s own code
// (openssl), once per directory, for tests and the simulator.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeIdentity, type Identity } from '../../membership/identity.js';
import { createCa, createNodeCert, type CaFiles } from '../../src/tls-files.js';
import { SignedChanges } from '../../crdt-store/change-auth.js';
import type { DocId } from '../../crdt-store/names.js';

export interface TestPki {
  dir: string;
  ca: CaFiles;
  /** Certificate and key files of each node created so far. */
  nodes: Map<string, CaFiles>;
  /** A certificate for `name` (made on first use), with `days` of validity. */
  node(name: string, days?: number): CaFiles;
  /** The identity of `name` as its agent loads it, at time `now`. */
  identity(name: string, now?: number): Identity;
  cleanup(): void;
}

export function makePki(names: readonly string[] = []): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'weft-pki-'));
  const ca = createCa(dir);
  const nodes = new Map<string, CaFiles>();
  const pki: TestPki = {
    dir,
    ca,
    nodes,
    node(name, days) {
      let f = nodes.get(name);
      if (!f) nodes.set(name, (f = createNodeCert({ node: name, dir, ca, days })));
      return f;
    },
    identity(name, now = Date.now()) {
      const f = pki.node(name);
      return makeIdentity({
        caPem: readFileSync(ca.cert),
        certPem: readFileSync(f.cert),
        keyPem: readFileSync(f.key),
        name,
        now,
      });
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  for (const n of names) pki.node(n);
  return pki;
}

/** SignedChanges that counts what it signs: Ed25519 signatures made, and changes they cover. */
export class CountingSignedChanges extends SignedChanges {
  signatures = 0;
  changes = 0;
  override sign(docId: DocId, change: Uint8Array): Uint8Array {
    this.signatures++;
    this.changes++;
    return super.sign(docId, change);
  }
  override signBatch(docId: DocId, hashes: readonly string[]): Uint8Array[] {
    this.signatures++;
    this.changes += hashes.length;
    return super.signBatch(docId, hashes);
  }
}

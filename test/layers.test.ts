// The import directions between the top-level folders (scripts/check-imports.mjs, whose
// table docs/ARCHITECTURE.md "Layers" copies). Runs the script on this tree, and on small
// fixture trees to show it fails on what it is meant to refuse.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const script = join(root, 'scripts', 'check-imports.mjs');

function run(dir: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [script, '--root', dir], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A tree of the given files (path -> text) in a fresh directory, removed after the test. */
function tree(t: { teardown(fn: () => unknown): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-layers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

t.test('this tree follows the layers', async (t) => {
  const { code, out } = run(root);
  t.equal(code, 0, out);
});

t.test('the check refuses what it is meant to refuse', async (t) => {
  const bad: [string, Record<string, string>, RegExp][] = [
    [
      'a folder below src/ importing src/',
      { 'dns/zone.ts': "import { SERVICE_PREFIX } from '../src/records.js';\n" },
      /dns\/zone\.ts:1: dns\/ may not import src\//,
    ],
    [
      'a dynamic import upwards',
      { 'lb/x.ts': "const m = await import('../registrar/labels.js');\n" },
      /lb\/ may not import registrar\//,
    ],
    [
      'a multi-line import from a peer',
      { 'dns/x.ts': "import {\n  a,\n  b,\n} from '../lb/records.js';\n" },
      /dns\/x\.ts:1: dns\/ may not import lb\//,
    ],
    [
      'a re-export from above',
      { 'base/x.ts': "export { Log } from '../src/log.js';\n" },
      /base\/ may not import src\//,
    ],
    [
      'a test below src/ loading src/',
      { 'overlay/x.test.ts': "import type { Logger } from '../src/log.js';\n" },
      /overlay\/ may not import src\//,
    ],
    [
      'a component importing a membership module past its entry',
      { 'src/components/x.ts': "import { parseKey } from '../../membership/keyring.js';\n" },
      /through membership\/index\.js only/,
    ],
    [
      'a type-only cycle',
      {
        'crdt-store/a.ts': "import type { B } from './b.js';\n",
        'crdt-store/b.ts': "import type { A } from './a.js';\n",
      },
      /import cycle: crdt-store\/a\.ts -> crdt-store\/b\.ts -> crdt-store\/a\.ts/,
    ],
    [
      'a folder the table does not know',
      { 'extra/x.ts': 'export const x = 1;\n' },
      /extra\/ is not in the layer table/,
    ],
  ];
  for (const [what, files, want] of bad) {
    const { code, out } = run(tree(t, files));
    t.equal(code, 1, `${what}: exits 1`);
    t.match(out, want, what);
  }
  const good = tree(t, {
    'dns/zone.ts':
      "import { SERVICE_PREFIX } from '../records/schema.js';\nimport { followCounter } from '../base/follow-counter.js';\n",
    'records/schema.ts': "import { SHARED_OWNER } from '../crdt-store/names.js';\n",
    'records/schema.test.ts':
      "import { Zone } from '../dns/zone.js';\nimport { endpoint } from '../test/helpers/dns.js';\n",
    'src/components/x.ts':
      "import { Membership } from '../../membership/index.js';\nimport { Zone } from '../../dns/zone.js';\n",
    'src/x.ts':
      "import { parseKey } from '../membership/keyring.js';\nconst s = \"a string that says from '../src/x.js' is no import\";\n",
    'bench/x.ts': "import { Agent } from '../src/agent.js';\n",
  });
  const { code, out } = run(good);
  t.equal(code, 0, `allowed imports pass: ${out}`);
});

// Test tiers are declared by file name (scripts/test.mjs, README "Tests"), and this checks
// that the names tell the truth, so `npm run test:unit` never needs root or starts an agent:
//   - a file that needs root, the kernel or Docker (skipUnless({ root: true }), the
//     namespace or Docker helpers) is *.system.test.ts, or *.e2e.test.ts when it also
//     starts agents;
//   - a file that starts a real agent (test/helpers/agent-process.ts, or `CLI, 'agent'`)
//     is *.e2e.test.ts;
//   - a *.system.test.ts file does need something (it calls skipUnless, dockerSkip or dockerHostsSkip).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
// The two lints name the patterns they look for; they are unit tests.
const LINTS = ['test/tiers.test.ts', 'test/hermetic.test.ts'];
const files = (readdirSync(root, { recursive: true }) as string[])
  .filter(
    (f) => f.endsWith('.test.ts') && !/^(node_modules|dist)\//.test(f) && !f.startsWith('.') && !LINTS.includes(f),
  )
  .sort();

const needsRoot = (src: string) =>
  /skipUnless\(\s*\{[^}]*root:\s*true/.test(src) || /helpers\/(netns|hosts|docker)\.js/.test(src);
// (`CLI, 'agent'` followed by a slash is a pattern read from a source file, not a start.)
const startsAgent = (src: string) => /helpers\/agent-process\.js/.test(src) || /\bCLI\s*,\s*'agent'(?!\/)/.test(src);

export function tierProblems(file: string, src: string): string[] {
  const out: string[] = [];
  const system = file.endsWith('.system.test.ts');
  const e2e = file.endsWith('.e2e.test.ts');
  if (needsRoot(src) && !system && !e2e)
    out.push(`${file}: needs root, the kernel or Docker: name it *.system.test.ts`);
  if (startsAgent(src) && !e2e) out.push(`${file}: starts a real agent: name it *.e2e.test.ts`);
  if (system && !/skipUnless\(|dockerSkip\(|dockerHostsSkip\(/.test(src))
    out.push(`${file}: a system test that needs nothing (no skipUnless): a unit test?`);
  return out;
}

t.test('the rule itself', async (t) => {
  t.same(tierProblems('a/x.test.ts', "{ skip: skipUnless({ root: true, commands: ['ip'] }) }").length, 1);
  t.same(tierProblems('a/x.test.ts', "import { NetLab } from '../test/helpers/netns.js'").length, 1);
  t.same(tierProblems('a/x.test.ts', "await import('../test/helpers/agent-process.js')").length, 1);
  t.same(
    tierProblems(
      'a/x.system.test.ts',
      "import { startAgent } from '../test/helpers/agent-process.js'; skipUnless({ root: true })",
    ).length,
    1,
  );
  t.same(
    tierProblems(
      'a/x.e2e.test.ts',
      "import { startAgent } from '../test/helpers/agent-process.js'; skipUnless({ root: true })",
    ),
    [],
  );
  t.same(
    tierProblems('a/x.test.ts', "{ skip: skipUnless({ commands: ['dig'] }) }"),
    [],
    'a common program (dig) is fine in a unit test',
  );
  t.same(tierProblems('a/x.system.test.ts', 'no prerequisites').length, 1);
});

t.test('every test file is in the tier its name says', async (t) => {
  t.ok(files.length > 50, `${files.length} test files`);
  t.same(
    files.flatMap((f) => tierProblems(f, readFileSync(join(root, f), 'utf8'))),
    [],
  );
});

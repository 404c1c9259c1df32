// Hermetic tests: no test or bench may depend on the default ports being free. An agent
// already running on this host (gossip 7946, store 7947, DNS 8600, API 8947) made
// src/agent.e2e.test.ts fail on a fresh clone. This lint reads every test, fixture, test
// helper and bench, and fails on:
//   1. a default port given as a listen port: `--bind-port 7946`, `--store-port 7947`,
//      `--api-port 8947`, `--dns-listen …:8600`, or `.listen(8600)` / `.bind(7946)`;
//   2. an agent started from an argv array (`CLI, 'agent', …` or `['agent', …]`) that
//      leaves a listener on its default: it must pass HERMETIC_AGENT_FLAGS or
//      HERMETIC_PORT_FLAGS (test/helpers/agent-process.ts), or all of --bind-port,
//      --store-port, --api-port and --dns-listen. Agents started by startAgent() get them;
//   3. a dev cluster (`'dev-cluster'` in an argv, or a startDevCluster call) on loopback
//      without --port-offset: its agents take the default ports on 127.X.0.i, which a
//      program holding them on every address (serf's 7946) denies. --netns clusters have
//      namespaces of their own; `restart` talks to a running one.
// Allowed, and so marked inline with a comment `hermetic: <why>` on the line or up to three
// lines above: an agent inside the test's own network namespace (its own addresses, so the
// default ports are its own), a command that exits before it listens (--help,
// --print-config, --cleanup, a config error), another program's agent (serf).
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT = '(?:7946|7947|8600|8947)';

export interface Finding {
  file: string;
  line: number;
  why: string;
  text: string;
}

function scanned(): string[] {
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => !f.startsWith('node_modules') && !f.startsWith('dist') && !f.startsWith('.') && f.endsWith('.ts'))
    .filter(
      (f) => /\.test\.ts$|\.fixture\.ts$/.test(f) || f.startsWith(join('test', 'helpers')) || f.startsWith('bench'),
    )
    .filter((f) => f !== join('test', 'hermetic.test.ts') && f !== join('test', 'tiers.test.ts')) // the lints name the patterns
    .sort();
}

/** The innermost `[` or `(` still open at `at`: the array or call holding an argv. */
function opener(text: string, at: number): number {
  let depth = 0;
  for (let i = at - 1; i >= 0; i--) {
    const c = text[i];
    if (c === ']' || c === ')') depth++;
    else if (c === '[' || c === '(') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return 0;
}

/** The index of the bracket closing the one opened at `open`, or the text's end. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '[' || text[i] === '(') depth++;
    else if ((text[i] === ']' || text[i] === ')') && --depth === 0) return i;
  }
  return text.length;
}

const allowed = (lines: string[], line: number, last: number) =>
  lines.slice(Math.max(0, line - 4), last + 1).some((l) => /\/\/.*\bhermetic:/.test(l));

export function lint(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  const lines = text.split('\n');
  const lineOf = (i: number) => text.slice(0, i).split('\n').length - 1;
  const add = (at: number, end: number, why: string) => {
    const line = lineOf(at);
    if (!allowed(lines, line, lineOf(end)))
      out.push({ file, line: line + 1, why, text: lines[line]!.trim().slice(0, 160) });
  };
  const literal = [
    new RegExp(`['"\`]--(?:bind-port|store-port|api-port)['"\`]\\s*,\\s*['"\`]?${DEFAULT}\\b`, 'g'),
    new RegExp(`--(?:bind-port|store-port|api-port)[= ]${DEFAULT}\\b`, 'g'),
    new RegExp(`['"\`]--dns-listen['"\`]\\s*,\\s*['"\`][^'"\`]*:${DEFAULT}\\b`, 'g'),
    new RegExp(`\\.(?:listen|bind)\\(\\s*(?:\\{\\s*port:\\s*)?${DEFAULT}\\b`, 'g'),
  ];
  for (const re of literal)
    for (const m of text.matchAll(re))
      add(m.index!, m.index! + m[0].length, `a default port as a listen port: ${m[0]}`);
  for (const m of text.matchAll(/(?:\bCLI\s*,\s*|\[\s*)'agent'/g)) {
    const open = m[0].startsWith('[') ? m.index! : opener(text, m.index!);
    const argv = text.slice(open, closing(text, open) + 1);
    if (/'--(?:help|print-config|cleanup|version)'/.test(argv)) continue; // never listens
    if (/HERMETIC_(?:AGENT|PORT)_FLAGS/.test(argv)) continue;
    const unset = ['--bind-port', '--store-port', '--api-port', '--dns-listen'].filter((f) => !argv.includes(`'${f}'`));
    if (unset.length)
      add(
        m.index!,
        open + argv.length,
        `an agent started with ${unset.join(', ')} on the default (pass HERMETIC_AGENT_FLAGS)`,
      );
  }
  for (const m of text.matchAll(/(?<!function )\bstartDevCluster\(|'dev-cluster'/g)) {
    const open = m[0].startsWith('start') ? m.index! + m[0].length - 1 : opener(text, m.index!);
    const argv = text.slice(open, closing(text, open) + 1);
    if (!/['"`]--(?:netns|port-offset)\b|'restart'/.test(argv))
      add(m.index!, open + argv.length, 'a dev cluster on the default ports of loopback (pass --port-offset)');
  }
  return out;
}

t.test('the lint finds what it is meant to find', async (t) => {
  const bad = [
    "runCli(['agent', '--bind-port', '0', '--api-port', '0'])",
    "spawn(node, [CLI, 'agent', '--bind-port', '7946', '--store-port', '0', '--api-port', '0', '--dns-listen', '127.0.0.1:0'])",
    "spawn(node, [CLI, 'agent', ...HERMETIC_AGENT_FLAGS, '--dns-listen', '127.0.0.1:8600'])",
    "inNs(process.execPath, CLI, 'agent', '--bind-port', '0')",
    'server.listen(8947)',
    'sock.bind({ port: 7947 })',
    "spawn(node, [CLI, 'dev-cluster', '--nodes', '4', '--subnet', '91'])",
    "const dc = startDevCluster(t, ['--nodes', '2', '--dir', dir]);",
  ];
  for (const b of bad) t.equal(lint('x.test.ts', b).length, 1, b);
  const good = [
    "runCli(['agent', '--bind-port', '0', '--api-port', '0', '--store-port', '0', '--dns-listen', ''])",
    "spawn(node, [CLI, 'agent', ...HERMETIC_AGENT_FLAGS, '--bind-port', '0'])",
    "runCli(['agent', '--print-config'])",
    "inNs(process.execPath, CLI, 'agent', '--cleanup')",
    "const peer = { addr: '10.0.0.1', port: 7946 }",
    "// hermetic: inside the test's own namespace\nspawn(node, [CLI, 'agent', '--bind-port', '7946'])",
    "spawn(node, [CLI, 'dev-cluster', '--nodes', '4', '--netns', '--subnet', '91'])",
    "startDevCluster(t, ['--nodes', '2', '--port-offset', String(offset)])",
    "execFileSyncStatus(['dev-cluster', 'restart', '2', '--dir', dir])",
    'function startDevCluster(t: T, args: string[]) {',
  ];
  for (const g of good) t.same(lint('x.test.ts', g), [], g);
});

t.test('no test, helper or bench depends on a default port being free', async (t) => {
  const files = scanned();
  t.ok(files.length > 50, `${files.length} files read`);
  const findings = files.flatMap((f) => lint(f, readFileSync(join(root, f), 'utf8')));
  t.same(
    findings.map((f) => `${relative('.', f.file)}:${f.line}: ${f.why}\n      ${f.text}`),
    [],
    'findings (fix them, or mark a legitimate case with `// hermetic: <why>`)',
  );
});

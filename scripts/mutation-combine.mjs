// Combine a part's full Stryker report with its re-check reports (README, "Tests and benchmarks"):
//   node scripts/mutation-combine.mjs <full.json> <recheck.json>... [--survivors]
// A mutant is killed (or timed out) if any report says so, and ignored if the newest report that
// has it says so (a `// Stryker disable` marker added since). Mutant ids differ per run and
// markers or fixes shift lines, so a mutant is named by its mutator, replacement, columns and
// the text of its line (a trailing marker aside) with the count of identical lines above it; a
// mutant whose line is gone from the newest source is dropped. Re-check a mutant spanning several
// lines with a range holding all of them (`--mutate file:63-66`): a one-line range leaves it out.
// Prints one JSON line per file and one for the total.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const listSurvivors = args.includes('--survivors');
const reports = args.filter((a) => a !== '--survivors').map((p) => JSON.parse(readFileSync(p, 'utf8')));
if (reports.length === 0) throw new Error('usage: mutation-combine.mjs <full.json> <recheck.json>... [--survivors]');

/** For each line of a source, its text and how many identical lines come before it. */
function lineKeys(source) {
  const seen = new Map();
  return source.split('\n').map((l) => {
    const text = l.replace(/\s*\/\/ Stryker (disable|restore) .*$/, '').trim(); // a marker at the end of the line before
    const n = seen.get(text) ?? 0;
    seen.set(text, n + 1);
    return `${text}#${n}`;
  });
}

const files = new Map(); // file -> { lines (newest source's line keys), mutants: key -> {statuses, newest, m, line} }
for (const report of reports) {
  for (const [file, v] of Object.entries(report.files)) {
    const lines = lineKeys(v.source);
    const f = files.get(file) ?? { mutants: new Map() };
    f.lines = lines;
    f.source = v.source;
    for (const m of v.mutants) {
      const { start, end } = m.location;
      const key = [
        m.mutatorName,
        m.replacement,
        lines[start.line - 1],
        start.column,
        end.line - start.line,
        end.column,
      ];
      const k = key.join('|');
      const entry = f.mutants.get(k) ?? { statuses: new Set(), m };
      entry.statuses.add(m.status);
      entry.newest = m.status;
      entry.lineKey = lines[start.line - 1];
      entry.m = m;
      f.mutants.set(k, entry);
    }
    files.set(file, f);
  }
}

const STATUSES = ['Killed', 'Timeout', 'Survived', 'NoCoverage', 'Ignored'];
const score = (n) => (n.Killed + n.Timeout) / (n.Killed + n.Timeout + n.Survived + n.NoCoverage);
const total = Object.fromEntries([...STATUSES, 'other'].map((s) => [s, 0]));
for (const [file, f] of files) {
  const n = Object.fromEntries([...STATUSES, 'other'].map((s) => [s, 0]));
  const current = new Set(f.lines);
  for (const e of f.mutants.values()) {
    if (!current.has(e.lineKey)) continue; // its line was changed since
    const status =
      e.newest === 'Ignored'
        ? 'Ignored'
        : (['Killed', 'Timeout', 'Survived', 'NoCoverage'].find((s) => e.statuses.has(s)) ?? 'other');
    n[status]++;
    if (listSurvivors && (status === 'Survived' || status === 'NoCoverage')) {
      const line = f.lines.indexOf(e.lineKey) + 1;
      console.log(
        `${file}:${line}:${e.m.location.start.column} ${status} ${e.m.mutatorName} -> ${JSON.stringify(e.m.replacement)}`,
      );
      console.log(`    ${e.lineKey.replace(/#\d+$/, '')}`);
    }
  }
  console.log(JSON.stringify({ file, ...n, score: Number(score(n).toFixed(3)) }));
  for (const k of Object.keys(total)) total[k] += n[k];
}
console.log(JSON.stringify({ total: true, ...total, score: Number(score(total).toFixed(3)) }));

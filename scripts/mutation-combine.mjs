#!/usr/bin/env node
// A part's full Stryker run combined with a re-check of its survivors against new test files
// (README, "Tests and benchmarks"; issue 18). Mutants are matched by mutator|replacement|location.
// A mutant marked equivalent since the full run (the re-check reports it Ignored) is ignored;
// otherwise it counts killed if the full run or the re-check killed it (or timed out).
// Locations are mapped from the full run's source to the re-check's (both are in Stryker's
// reports) line by line, so comment lines added in between, such as `// Stryker disable` markers,
// do not break the match; a mutant on a line that changed keeps the full run's status and is
// counted as `unmapped`.
//
//   node scripts/mutation-combine.mjs <full.json> <recheck.json> [--out <combined.json>]
//     one JSON line per mutated file and one for the total, as `npm run mutation` prints;
//     --out writes the combined Stryker report (the re-check's sources).
//   node scripts/mutation-combine.mjs --survivors <full.json>
//     the `--mutate` argument covering the full run's survivors and no-coverage mutants, on
//     the lines they have in the sources as they are now.
import { readFileSync, writeFileSync } from 'node:fs';

const DETECTED = new Set(['Killed', 'Timeout']);

function read(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * For each line of `from` (0-based), its line in `to`, or -1 where it changed: a longest common
 * subsequence of the two line lists (the sources are a few thousand lines at most).
 */
function lineMap(from, to) {
  const a = from.split('\n');
  const b = to.split('\n');
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const map = new Int32Array(n).fill(-1);
  for (let i = 0, j = 0; i < n && j < m;) {
    if (a[i] === b[j]) map[i++] = j++;
    else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) i++;
    else j++;
  }
  return map;
}

/** The location moved by `map` (Stryker's lines are 1-based), or undefined if a line changed. */
function mapLocation(loc, map) {
  const start = map[loc.start.line - 1];
  const end = map[loc.end.line - 1];
  if (start === undefined || end === undefined || start < 0 || end < 0) return undefined;
  return { start: { ...loc.start, line: start + 1 }, end: { ...loc.end, line: end + 1 } };
}

/** A replacement spanning lines carries the comments between them: markers added since must not count. */
const MARKER = /^[ \t]*\/\/ Stryker (disable|restore)\b.*\n/gm;

function key(m, loc = m.location) {
  return `${m.mutatorName}|${m.replacement?.replace(MARKER, '')}|${loc.start.line}:${loc.start.column}-${loc.end.line}:${loc.end.column}`;
}

function combine(full, recheck) {
  const files = {};
  for (const [path, f] of Object.entries(full.files)) {
    const again = recheck.files[path];
    const map = again ? lineMap(f.source, again.source) : undefined;
    const byKey = new Map((again?.mutants ?? []).map((m) => [key(m), m]));
    const mutants = f.mutants.map((m) => {
      const loc = map ? mapLocation(m.location, map) : m.location;
      if (!loc) return { ...m, unmapped: true };
      const r = byKey.get(key(m, loc));
      let status = m.status;
      if (r?.status === 'Ignored') status = 'Ignored';
      else if (!DETECTED.has(m.status) && r && (DETECTED.has(r.status) || r.status === 'Survived')) status = r.status;
      return { ...m, location: loc, status, ...(r && status === r.status ? { statusReason: r.statusReason } : {}) };
    });
    files[path] = { ...f, source: again?.source ?? f.source, mutants };
  }
  return { ...full, files };
}

/** The counts of `npm run mutation`'s JSON line, per file and in total. */
function score(report) {
  const key = {
    Killed: 'killed',
    Survived: 'survived',
    Timeout: 'timeout',
    NoCoverage: 'no_coverage',
    Ignored: 'ignored',
  };
  const count = () => ({
    mutants: 0,
    killed: 0,
    survived: 0,
    timeout: 0,
    no_coverage: 0,
    ignored: 0,
    errors: 0,
    unmapped: 0,
  });
  const withScore = (n) => {
    const counted = n.killed + n.timeout + n.survived + n.no_coverage;
    return { ...n, score: counted ? Math.round(((n.killed + n.timeout) / counted) * 1000) / 1000 : null };
  };
  const total = count();
  const lines = [];
  for (const [path, f] of Object.entries(report.files)) {
    const n = count();
    for (const m of f.mutants) {
      for (const c of [n, total]) {
        c.mutants++;
        c[key[m.status] ?? 'errors']++;
        if (m.unmapped) c.unmapped++;
      }
    }
    lines.push({ file: path, ...withScore(n) });
  }
  lines.push({ file: 'total', ...withScore(total) });
  return lines;
}

/** `path:start-end,…` over the survivors' lines, mapped onto the files as they are now. */
function survivorRanges(full) {
  const ranges = [];
  for (const [path, f] of Object.entries(full.files)) {
    const map = lineMap(f.source, readFileSync(path, 'utf8'));
    const spans = [];
    for (const m of f.mutants) {
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      const loc = mapLocation(m.location, map) ?? m.location;
      spans.push([loc.start.line, loc.end.line]);
    }
    spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const merged = [];
    for (const s of spans) {
      const last = merged.at(-1);
      if (last && s[0] <= last[1] + 1) last[1] = Math.max(last[1], s[1]);
      else merged.push([...s]);
    }
    for (const [a, b] of merged) ranges.push(`${path}:${a}-${b}`);
  }
  return ranges.join(',');
}

// Last, so every constant above is initialised.
const args = process.argv.slice(2);
if (args[0] === '--survivors' && args.length === 2) {
  console.log(survivorRanges(read(args[1])));
} else if (args.length === 2 || (args.length === 4 && args[2] === '--out')) {
  const combined = combine(read(args[0]), read(args[1]));
  for (const line of score(combined)) console.log(JSON.stringify(line));
  if (args[3]) writeFileSync(args[3], JSON.stringify(combined));
} else {
  console.error(
    'usage: node scripts/mutation-combine.mjs <full.json> <recheck.json> [--out <combined.json>]\n' +
      '       node scripts/mutation-combine.mjs --survivors <full.json>',
  );
  process.exit(2);
}

#!/usr/bin/env node
// The allowed import directions between weft's top-level folders (docs/ARCHITECTURE.md,
// "Layers"). This table is the source of truth; the document copies it. A folder imports
// only the folders listed for it (and itself, node: builtins and packages), so contracts sit
// below their users and nothing below src/ reaches into the daemon.
//
// Tests (*.test.ts, *.fixture.ts) may import any folder but the daemon: they check one
// folder against the real others (records/ against the dns and lb readers, a crdt-store
// test with weft's key-space) and use the test helpers and bench's attack tools, but a test
// below src/ never loads src/.
//
// Also checked: src/components import membership through its one entry (membership/index.ts),
// and no two files import each other, even for types only (a cycle, however long).
//
// `node scripts/check-imports.mjs [--root DIR]` prints what breaks the rules and exits 1;
// test/layers.test.ts runs it, so `npm test` does.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which top-level folders each one may import. Lowest first. */
export const LAYERS = {
  base: [],
  supervisors: ['base'],
  membership: ['base'],
  'crdt-store': ['base', 'membership'],
  records: ['base', 'crdt-store'],
  dns: ['base', 'records'],
  lb: ['base', 'records'],
  overlay: ['base', 'records', 'crdt-store'],
  registrar: ['base', 'records', 'crdt-store', 'lb'],
  props: ['base', 'records', 'membership', 'crdt-store', 'supervisors', 'dns', 'lb', 'overlay'],
  src: ['base', 'records', 'membership', 'crdt-store', 'dns', 'lb', 'overlay', 'registrar', 'supervisors'],
  // The benches and the test helpers drive everything, the daemon included.
  bench: ['*'],
  test: ['*'],
  scripts: [],
};

/** Imports of a folder that must go through its entry file, by the importing folder. */
const ENTRIES = [{ from: 'src/components/', folder: 'membership', entry: 'membership/index.js' }];

const isTest = (file) => /\.(test|fixture)\.ts$/.test(file);
const TESTS_MAY = Object.keys(LAYERS).filter((f) => f !== 'src');

/** The relative specifiers a source file imports, with their line numbers. */
export function importsOf(text) {
  const out = [];
  const lineOf = (i) => text.slice(0, i).split('\n').length;
  // Statements start a line (a string that mentions `from '…'` mid-line is not one).
  for (const m of text.matchAll(
    /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*'(\.{1,2}\/[^']+)'|^[ \t]*import\s*'(\.{1,2}\/[^']+)'/gm,
  )) {
    out.push({ spec: m[1] ?? m[2], line: lineOf(m.index) });
  }
  for (const m of text.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g))
    out.push({ spec: m[1], line: lineOf(m.index) });
  return out;
}

/** What breaks the rules in one file (`file` relative to the root, with `/`). */
export function violations(file, text) {
  const top = file.split('/')[0];
  const allowed = LAYERS[top];
  const out = [];
  for (const { spec, line } of importsOf(text)) {
    const target = posix.normalize(posix.join(posix.dirname(file), spec));
    const to = target.split('/')[0];
    for (const e of ENTRIES) {
      if (file.startsWith(e.from) && to === e.folder && target !== e.entry)
        out.push(`${file}:${line}: ${e.from} imports ${e.folder}/ through ${e.entry} only, not ${target}`);
    }
    if (to === top || allowed === undefined || allowed.includes('*')) continue;
    const may = new Set(isTest(file) ? TESTS_MAY : allowed);
    if (!may.has(to))
      out.push(
        `${file}:${line}: ${top}/ may not import ${to === '..' || !(to in LAYERS) ? target : to + '/'} (${spec}); ${top}/ imports ${[...may].map((f) => f + '/').join(', ') || 'nothing of weft'}`,
      );
  }
  if (allowed === undefined)
    out.push(
      `${file}: ${top}/ is not in the layer table (scripts/check-imports.mjs LAYERS): add it there and in docs/ARCHITECTURE.md`,
    );
  return out;
}

/** Import cycles among `files` (a map of file to its relative imports, resolved). */
export function cycles(graph) {
  const out = [];
  const state = new Map(); // 1: on the current path, 2: done
  const path = [];
  const visit = (f) => {
    state.set(f, 1);
    path.push(f);
    for (const g of graph.get(f) ?? []) {
      if (!graph.has(g)) continue;
      if (state.get(g) === 1) out.push([...path.slice(path.indexOf(g)), g].join(' -> '));
      else if (!state.has(g)) visit(g);
    }
    path.pop();
    state.set(f, 2);
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return out;
}

function sources(root) {
  return readdirSync(root, { recursive: true })
    .map((f) => f.split(sep).join('/'))
    .filter((f) => /\.(ts|mjs)$/.test(f) && !f.endsWith('.d.ts') && f.includes('/'))
    .filter((f) => !/^(node_modules|dist)\//.test(f) && !f.split('/').some((p) => p.startsWith('.')))
    .sort();
}

export function check(root) {
  const problems = [];
  const graph = new Map();
  for (const file of sources(root)) {
    const text = readFileSync(join(root, file), 'utf8');
    problems.push(...violations(file, text));
    const ts = (p) => p.replace(/\.js$/, '.ts');
    graph.set(
      file,
      importsOf(text).map(({ spec }) => ts(posix.normalize(posix.join(posix.dirname(file), spec)))),
    );
  }
  for (const c of cycles(graph)) problems.push(`import cycle: ${c}`);
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = process.argv.indexOf('--root');
  const root = at > 0 ? process.argv[at + 1] : join(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = check(root);
  for (const p of problems) console.log(p);
  if (problems.length) {
    console.log(
      `\n${problems.length} import(s) break the layer rules (scripts/check-imports.mjs, docs/ARCHITECTURE.md "Layers")`,
    );
    process.exit(1);
  }
  console.log(`imports follow the layers (${relative(process.cwd(), root) || '.'})`);
}

#!/usr/bin/env node
// `npm run bench -- <name>`: builds, then runs dist/bench/<name>.js. Each bench prints a
// table and ends with one JSON line of its figures. Files named <bench>-<part>.ts are parts of
// a bench (runnable, but not listed).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const [name, ...rest] = process.argv.slice(2);
const available = () =>
  readdirSync('bench')
    .filter((f) => f.endsWith('.ts') && !f.includes('.test.') && !f.startsWith('_') && !f.includes('-'))
    .map((f) => f.slice(0, -3));
if (!name) {
  console.error(`usage: npm run bench -- <name>\navailable: ${available().join(', ')}`);
  process.exit(2);
}
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
const file = `dist/bench/${name}.js`;
if (!existsSync(file)) {
  console.error(`no bench named "${name}"; available: ${available().join(', ')}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--expose-gc', file, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);

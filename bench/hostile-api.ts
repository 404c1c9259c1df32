// `npm run bench -- hostile-api [--smoke]`: the HTTP API's part of the hostile bench alone
// (bench/hostile/api.ts), until `npm run bench -- hostile` runs every area's attacks.
// Prints one line per attack, then one JSON line of the figures.
import { runApiAttacks } from './hostile/api.js';

const smoke = process.argv.includes('--smoke');
const results = await runApiAttacks({ smoke });
for (const r of results) console.log(`${r.held ? 'held  ' : 'FAILED'}  ${r.name.padEnd(28)} ${r.detail ?? ''}`);
const figures = Object.assign({}, ...results.map((r) => r.figures ?? {})) as Record<string, number>;
console.log(JSON.stringify({ attacks: results.length, held: results.filter((r) => r.held).length, crashes: results.reduce((n, r) => n + (r.crashes ?? 0), 0), forged_accepted: results.reduce((n, r) => n + (r.forged_accepted ?? 0), 0), ...figures }));
process.exit(results.every((r) => r.held) ? 0 : 1);

import t from 'tap';
import { readFileSync } from 'node:fs';
import { CONFIG_KEYS, envOf, flagOf } from './config-schema.js';

// The README's config reference is written by hand; this keeps it from drifting from the schema.
t.test('README documents every config key with its flag and env variable', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const k of CONFIG_KEYS) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${k.path}\` |`));
    t.ok(row, `${k.path} has a row`);
    t.match(row ?? '', `\`--${flagOf(k)}\``, `${k.path} flag`);
    t.match(row ?? '', `\`${envOf(k)}\``, `${k.path} env`);
  }
});

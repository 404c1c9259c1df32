import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { durationText, exampleConfig } from './config-example.js';
import { CONFIG_KEYS } from './config-schema.js';
import { loadConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-example-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function load(text: string) {
  const file = join(dir, `c${Math.random()}.yaml`);
  writeFileSync(file, text);
  return loadConfig({ file });
}

t.test('the packaged file is valid and sets only what it is given', async (t) => {
  const loaded = await load(exampleConfig({ 'node.dataDir': '/var/lib/weft' }));
  t.equal(loaded.config.node.dataDir, '/var/lib/weft');
  const fromFile = Object.entries(loaded.sources)
    .filter(([, s]) => s === 'file')
    .map(([k]) => k);
  t.same(fromFile, ['node.dataDir']);
});

t.test('every key is there, and uncommenting every default changes nothing', async (t) => {
  const text = exampleConfig();
  for (const k of CONFIG_KEYS) t.match(text, `# ${k.path.split('.')[1]}:`, k.path);
  // Uncomment the sections and each key that shows a value (not prose that starts with a word and a colon).
  const keys = new Set(CONFIG_KEYS.map((k) => k.path));
  let section = '';
  const uncommented = text
    .split('\n')
    .map((l) => {
      const top = /^# (\w+):$/.exec(l);
      if (top) return `${(section = top[1]!)}:`;
      const key = /^ {2}# (\w+): .+$/.exec(l);
      return key && keys.has(`${section}.${key[1]}`) ? l.replace('# ', '') : l;
    })
    .join('\n');
  const loaded = await load(uncommented);
  const defaults = await loadConfig({});
  t.same(loaded.config, defaults.config, 'each value shown is the default');
  t.ok(
    Object.values(loaded.sources).some((s) => s === 'file'),
    'and the file was read',
  );
});

t.test('durations are written with their unit', async (t) => {
  t.same([0, 500, 1000, 90_000, 7_200_000, 1500].map(durationText), ['0ms', '500ms', '1s', '90s', '2h', '1500ms']);
});

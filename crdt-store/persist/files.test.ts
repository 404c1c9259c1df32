import t from 'tap';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from './open.js';
import { LOG_FILE } from './journal.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

function writeAndCompact(dir: string): void {
  const s = openStore(dir, { name: 'n1', clock: () => Date.now(), journal: { minLogBytes: 1, compactRatio: 0 } });
  for (let i = 0; i < 20; i++) s.store.put(`kv/secret/${i}`, { password: 'hunter2', i }, { shared: true });
  s.journal.sync();
  s.close();
}

// Found in review: the data directory was 0755 and store.log 0644, holding KV values.
t.test('a new data directory is 0700 and every file in it 0600', async (t) => {
  const dir = join(t.testdir(), 'data', 'weft');
  writeAndCompact(dir);
  t.equal(modeOf(dir), 0o700, 'directory');
  const files = readdirSync(dir);
  t.ok(files.includes(LOG_FILE), `files: ${files.join(', ')}`);
  for (const f of files) t.equal(modeOf(join(dir, f)), 0o600, f);
});

t.test('a directory and log left wide by an older version are narrowed when opened', async (t) => {
  const dir = t.testdir();
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, LOG_FILE), '', { mode: 0o644 });
  chmodSync(join(dir, LOG_FILE), 0o644);
  writeAndCompact(dir);
  t.equal(modeOf(dir), 0o700);
  for (const f of readdirSync(dir)) t.equal(modeOf(join(dir, f)), 0o600, f);
});

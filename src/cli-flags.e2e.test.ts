// Every command meets a bad flag the same way (args.ts's parseCommand): one short line on
// stderr that names the flag and says where the help is, exit 2, no stack trace, nothing on
// stdout and no agent asked. --help prints the command's help and exits 0, also after a
// subcommand. The built CLI (dist/), run as a person runs it.
import t from 'tap';
import { runCli } from '../test/helpers/agent-process.js';

/** Nothing listens there: a command that went on to call the agent would fail with exit 1, not 2. */
const env = { WEFT_API: 'http://127.0.0.1:9' };

/** A command as typed up to the flag: alone, or with a subcommand and its arguments. */
const COMMANDS: string[][] = [
  ['overlay'],
  ['service', 'register', 'web'],
  ['service', 'pass', 'web'],
  ['vip', 'add', 'web:80'],
  ['kv'],
  ['kv', 'put', 'k', '1'],
  ['keyring', 'install', 'K'],
  ['tls'],
  ['tls', 'cert', 'create'],
];

/** Bad flags, and what the one line must say. */
const BAD: { flags: string[]; says: RegExp }[] = [
  { flags: ['--bogus'], says: /unknown flag --bogus/ },
  // A flag's value missing, the next flag taken for it (parseArgs says so in three lines).
  { flags: ['--api', '--json'], says: /--api needs a value/ },
  // An empty value where an address goes (it was tried as http://, exit 1).
  { flags: ['--api='], says: /--api "" is not an agent address/ },
];

t.test('a bad flag: one line, exit 2, for every command', async (t) => {
  const runs = COMMANDS.flatMap((cmd) => BAD.map((bad) => ({ argv: [...cmd, ...bad.flags], says: bad.says })));
  // A few at a time: each is a node process.
  for (let i = 0; i < runs.length; i += 4) {
    const batch = runs.slice(i, i + 4);
    const results = await Promise.all(batch.map((r) => runCli(r.argv, env)));
    batch.forEach(({ argv, says }, j) => {
      const { code, stdout, stderr } = results[j]!;
      const line = `weft ${argv.join(' ')}`;
      t.equal(code, 2, `${line}: exit 2 (${JSON.stringify(stderr)})`);
      t.match(stderr, /^weft: [^\n]+\n$/, `${line}: one line on stderr`);
      t.match(stderr, says, `${line}: names what was wrong`);
      t.match(stderr, /run weft \S+ --help/, `${line}: says where the help is`);
      t.notMatch(stderr, /\n\s+at |Error:/, `${line}: no stack trace`);
      t.equal(stdout, '', `${line}: nothing on stdout`);
    });
  }
});

t.test('--help prints the help and exits 0, after a subcommand too', async (t) => {
  for (const cmd of COMMANDS) {
    const { code, stdout, stderr } = await runCli([...cmd, '--help'], env);
    const line = `weft ${cmd.join(' ')} --help`;
    t.equal(code, 0, `${line}: exit 0 (${JSON.stringify(stderr)})`);
    t.match(stdout, new RegExp(`^Usage: weft ${cmd[0]}`), `${line}: the help`);
  }
});

t.test('no subcommand: the help on stderr, exit 2', async (t) => {
  for (const cmd of ['service', 'vip', 'kv', 'keyring', 'tls']) {
    const { code, stdout, stderr } = await runCli([cmd], env);
    t.equal(code, 2, `weft ${cmd}: exit 2`);
    t.match(stderr, new RegExp(`^Usage: weft ${cmd}`), `weft ${cmd}: the help, on stderr (a usage error)`);
    t.equal(stdout, '', `weft ${cmd}: nothing on stdout`);
  }
});

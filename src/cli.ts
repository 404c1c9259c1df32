#!/usr/bin/env -S node --max-semi-space-size=4 --wasm-lazy-validation --v8-pool-size=1 --test-udp-no-try-send
// The `weft` command. Each subcommand lives in src/commands/; this file only dispatches
// and turns expected failures into one short line on stderr (never a stack trace).
import { UsageError, CommandFailed } from './commands/errors.js';

interface Command {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
  agent: { summary: 'run the weft daemon on this node', load: () => import('./commands/agent.js') },
  chaos: {
    summary: 'inject faults (drop, partition, pause, kill) into a weft dev-cluster',
    load: () => import('./commands/chaos.js'),
  },
  'dev-cluster': {
    summary: 'start N agents on this machine as one cluster (Ctrl-C stops them)',
    load: () => import('./commands/dev-cluster.js'),
  },
  event: {
    summary: "fire a user event: every node's handlers for it run once",
    load: () => import('./commands/event.js'),
  },
  'force-leave': {
    summary: 'remove a failed member for good: left everywhere, its records dropped',
    load: () => import('./commands/force-leave.js'),
  },
  join: {
    summary: 'make a running agent join a cluster through one of its members',
    load: () => import('./commands/join.js'),
  },
  keygen: {
    summary: 'print a fresh gossip encryption key, or with --token an API token',
    load: () => import('./commands/keygen.js'),
  },
  keyring: {
    summary: "list, install, use and remove the cluster's encryption keys (gossip and store)",
    load: () => import('./commands/keyring.js'),
  },
  kv: { summary: 'get, put, delete, list and watch keys of the shared store', load: () => import('./commands/kv.js') },
  leave: {
    summary: 'make a running agent leave the cluster gracefully, then stop',
    load: () => import('./commands/leave.js'),
  },
  members: { summary: 'list the cluster members a running agent knows', load: () => import('./commands/members.js') },
  monitor: { summary: "stream a running agent's log lines", load: () => import('./commands/monitor.js') },
  overlay: { summary: "show this node's overlay lease and peers", load: () => import('./commands/overlay.js') },
  reload: {
    summary: "reload a running agent's config, keyring and certificate (as SIGHUP)",
    load: () => import('./commands/reload.js'),
  },
  service: { summary: 'register, deregister and list service endpoints', load: () => import('./commands/service.js') },
  tls: {
    summary: 'create the cluster CA and node certificates (per-node identity)',
    load: () => import('./commands/tls.js'),
  },
  vip: { summary: 'declare, remove and list virtual IPs', load: () => import('./commands/vip.js') },
  watch: {
    summary: 'run a command when keys, services, members, VIPs change, or on user events',
    load: () => import('./commands/watch.js'),
  },
  status: { summary: "show a running agent's status", load: () => import('./commands/status.js') },
  version: { summary: 'print the version of weft (also --version)', load: async () => ({ run: printVersion }) },
};

async function printVersion(): Promise<number> {
  const { VERSION } = await import('./version.js');
  console.log(VERSION);
  return 0;
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'weft: a peer daemon for every node: membership, replicated state, DNS, VIPs, overlay.',
    '',
    'Usage: weft <command> [flags]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `weft <command> --help` for the flags of a command.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // No command at all is a usage error (exit 2, as `weft kv` with no subcommand); asking for help is not.
  if (!name) {
    console.error(mainHelp());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(mainHelp());
    return 0;
  }
  if (name === '--version') return printVersion();
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"; run weft --help to see the commands`);
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof CommandFailed) {
      process.stderr.write(`weft: ${e.message}\n`);
      process.exitCode = e instanceof UsageError ? 2 : 1;
    } else {
      process.stderr.write(`weft: unexpected failure: ${e instanceof Error ? e.message : String(e)}\n`);
      if (process.env.WEFT_DEBUG) console.error(e);
      process.exitCode = 1;
    }
  },
);

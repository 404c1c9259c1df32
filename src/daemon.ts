// The process around the agent: logger, ready line, signals and exit codes.
// SIGTERM/SIGINT stop gracefully and exit 0; SIGHUP reloads what is safe to reload;
// a root supervisor that gives up exits 1 so that systemd (or any service manager) restarts us.
import { Agent } from './agent.js';
import { ConfigError, loadConfig, type ConfigInputs, type LoadedConfig } from './config.js';
import { createLogger } from './log.js';
import { KeyringFileError } from './keyring-file.js';
import { IdentityError } from '../membership/index.js';

export async function startDaemon(loaded: LoadedConfig, inputs: ConfigInputs): Promise<number> {
  const { config } = loaded;
  const log = await createLogger({ level: config.log.level, format: config.log.format, name: config.node.name });
  let agent: Agent;
  try {
    agent = new Agent(loaded, log);
  } catch (e) {
    if (!(e instanceof KeyringFileError) && !(e instanceof IdentityError)) throw e;
    log.fatal(e.message);
    return 2;
  }

  let stopping: Promise<number> | undefined;
  const stop = (reason: string, code: number): Promise<number> => {
    stopping ??= (async () => {
      log.info({ reason }, `stopping (${reason})`);
      const timer = setTimeout(() => {
        log.error('graceful stop took over 30s; exiting now');
        process.exit(code || 1);
      }, 30_000).unref();
      await agent.stop().catch((e: unknown) => log.error({ err: e }, 'error while stopping'));
      clearTimeout(timer);
      log.info('stopped');
      return code;
    })();
    return stopping;
  };

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  const onSignal = (sig: NodeJS.Signals) => void stop(sig, 0).then(resolveExit);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => void reload(agent, inputs, log));
  // A throw that escaped every component leaves the process in an unknown state: log it as one
  // structured line and exit 1 for the service manager, rather than limp on.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, `internal error, exiting: ${err.message}`);
    process.exit(1);
  });

  try {
    const ready = await agent.start();
    // Only after a successful start: a start that fails is reported once, below.
    agent.gaveUp
      .then((err) => {
        log.fatal(
          { err: err.message },
          `too many component failures; exiting for the service manager to restart weft: ${err.message}`,
        );
        return stop('supervisor gave up', 1);
      })
      .then(resolveExit, (e: unknown) => {
        // Still exit for the service manager: a daemon whose supervisor gave up must not linger.
        log.fatal(
          { err: (e as Error).message },
          `too many component failures, and the stop failed: ${(e as Error).message}`,
        );
        resolveExit(1);
      });

    log.info(
      ready,
      `weft agent ready: ${Object.entries(ready)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  } catch (e) {
    if (stopping) return stopping; // a signal during start is an ordinary stop
    const cause = rootCause(e);
    log.fatal({ err: (e as Error).message }, `could not start: ${cause}`);
    await stop('start failed', 1);
    return 1;
  }
  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}

async function reload(agent: Agent, inputs: ConfigInputs, log: import('./log.js').Logger): Promise<void> {
  let next: LoadedConfig;
  try {
    next = await loadConfig({ ...inputs, env: process.env });
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : (e as Error).message;
    log.error(`SIGHUP: config not reloaded, the running config stays: ${msg}`);
    return;
  }
  const { applied, needRestart } = agent.reload(next.config);
  try {
    // gossip.keys, when it changed, is already listed; else the keyring file was edited.
    if (agent.reloadKeyring() && !applied.includes('gossip.keys')) applied.push('keyring file');
  } catch (e) {
    log.error(`SIGHUP: keyring not reloaded, the running keys stay: ${(e as Error).message}`);
  }
  try {
    if (agent.reloadIdentity()) applied.push('node certificate');
  } catch (e) {
    log.error(`SIGHUP: node certificate not reloaded, the running one stays: ${(e as Error).message}`);
  }
  log.info(
    { applied, needRestart },
    `SIGHUP: config reloaded; applied: ${applied.join(', ') || 'nothing changed'}` +
      (needRestart.length ? `; needs a restart to change: ${needRestart.join(', ')}` : ''),
  );
}

/** The innermost reason, which is the one an operator can act on (e.g. "port in use"). */
function rootCause(e: unknown): string {
  let cur = e as { message?: string; cause?: unknown };
  while (cur.cause instanceof Error) cur = cur.cause;
  return cur.message?.replace(/^child \S+ crashed: /, '') ?? String(e);
}

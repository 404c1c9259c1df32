// The process around the agent: logger, ready line, signals and exit codes.
// SIGTERM/SIGINT stop gracefully and exit 0; SIGHUP reloads what is safe to reload;
// SIGINT and `weft leave` leave the cluster first, SIGTERM only with gossip.leaveOnTerminate
// (as serf: a service manager's stop or restart must not take the node's records away);
// a root supervisor that gives up exits 1 so that systemd (or any service manager) restarts us.
import { Agent, loadOptionalComponents } from './agent.js';
import { ConfigError, loadConfig, type ConfigInputs, type LoadedConfig } from './config.js';
import { createLogger, LogTap, type Logger } from './log.js';
import { LEFT_EXIT_CODE, registerDaemonRoutes, type ReloadResult } from './daemon-routes.js';
import { KeyringFileError } from './keyring-file.js';
import { IdentityError } from '../membership/index.js';

export async function startDaemon(loaded: LoadedConfig, inputs: ConfigInputs): Promise<number> {
  const { config } = loaded;
  const tap = new LogTap();
  const log = await createLogger({ level: config.log.level, format: config.log.format, name: config.node.name, tap });
  const optional = await loadOptionalComponents(config);
  let agent: Agent;
  try {
    agent = new Agent(loaded, log, optional);
  } catch (e) {
    if (!(e instanceof KeyringFileError) && !(e instanceof IdentityError)) throw e;
    log.fatal(e.message);
    return 2;
  }

  const { stop, stopping } = gracefulStop(agent, log);

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  const exitAfter = (reason: string, code: number, leave: boolean) => void stop(reason, code, leave).then(resolveExit);
  const onSignal = (sig: NodeJS.Signals) => exitAfter(sig, 0, sig === 'SIGINT' || config.gossip.leaveOnTerminate);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => void reload(agent, inputs, log));
  registerDaemonRoutes(agent.ctx.api, {
    leave: () => exitAfter('leave', LEFT_EXIT_CODE, true),
    reload: () => reload(agent, inputs, log),
    tap,
  });
  // A throw that escaped every component leaves the process in an unknown state: log it as one
  // structured line and exit 1 for the service manager, rather than limp on.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, `internal error, exiting: ${err.message}`);
    process.exit(1);
  });

  try {
    const ready = await agent.start();
    // Only after a successful start: a start that fails is reported once, below.
    exitWhenSupervisorGivesUp(agent, log, stop, resolveExit);

    log.info(
      ready,
      `weft agent ready: ${Object.entries(ready)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  } catch (e) {
    const signalled = stopping();
    if (signalled) return signalled; // a signal during start is an ordinary stop
    const cause = rootCause(e);
    log.fatal({ err: (e as Error).message }, `could not start: ${cause}`);
    await stop('start failed', 1, false);
    return 1;
  }
  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}

type Stop = (reason: string, code: number, leave: boolean) => Promise<number>;

/** One stop however many ask for it (signals, a supervisor giving up), bounded to 30s. `stopping`: the stop under way, if any. */
function gracefulStop(agent: Agent, log: Logger): { stop: Stop; stopping: () => Promise<number> | undefined } {
  let stopping: Promise<number> | undefined;
  const stop: Stop = (reason, code, leave) => {
    stopping ??= (async () => {
      log.info({ reason, leave }, `stopping (${reason}${leave ? ', leaving the cluster' : ''})`);
      const timer = setTimeout(() => {
        log.error('graceful stop took over 30s; exiting now');
        process.exit(code || 1);
      }, 30_000).unref();
      await agent.stop({ leave }).catch((e: unknown) => log.error({ err: e }, 'error while stopping'));
      clearTimeout(timer);
      log.info('stopped');
      return code;
    })();
    return stopping;
  };
  return { stop, stopping: () => stopping };
}

function exitWhenSupervisorGivesUp(agent: Agent, log: Logger, stop: Stop, exit: (code: number) => void): void {
  agent.gaveUp
    .then((err) => {
      log.fatal(
        { err: err.message },
        `too many component failures; exiting for the service manager to restart weft: ${err.message}`,
      );
      // Exit 1 for the service manager to start us again: a restart, not a leave.
      return stop('supervisor gave up', 1, false);
    })
    .then(exit, (e: unknown) => {
      // Still exit for the service manager: a daemon whose supervisor gave up must not linger.
      log.fatal(
        { err: (e as Error).message },
        `too many component failures, and the stop failed: ${(e as Error).message}`,
      );
      exit(1);
    });
}

/** SIGHUP and POST /v1/agent/reload: applies what can change while running, says what could not. */
async function reload(agent: Agent, inputs: ConfigInputs, log: Logger): Promise<ReloadResult> {
  let next: LoadedConfig;
  try {
    next = await loadConfig({ ...inputs, env: process.env });
  } catch (e) {
    const msg = `config not reloaded, the running config stays: ${e instanceof ConfigError ? e.message : (e as Error).message}`;
    log.error(`SIGHUP: ${msg}`);
    return { applied: [], needRestart: [], errors: [msg] };
  }
  const { applied, needRestart } = agent.reload(next.config);
  const errors: string[] = [];
  try {
    // gossip.keys, when it changed, is already listed; else the keyring file was edited.
    if (agent.reloadKeyring() && !applied.includes('gossip.keys')) applied.push('keyring file');
  } catch (e) {
    errors.push(`keyring not reloaded, the running keys stay: ${(e as Error).message}`);
  }
  try {
    if (agent.reloadIdentity()) applied.push('node certificate');
  } catch (e) {
    errors.push(`node certificate not reloaded, the running one stays: ${(e as Error).message}`);
  }
  // Each problem is logged by the service files' own component, naming the file.
  const services = await agent.reloadServiceFiles();
  if (services.applied) applied.push(services.applied);
  for (const err of errors) log.error(`SIGHUP: ${err}`);
  errors.push(...services.errors.map((e) => `service definitions not applied, the running set stays: ${e}`));
  log.info(
    { applied, needRestart },
    `SIGHUP: config reloaded; applied: ${applied.join(', ') || 'nothing changed'}` +
      (needRestart.length ? `; needs a restart to change: ${needRestart.join(', ')}` : ''),
  );
  return { applied, needRestart, errors };
}

/** The innermost reason, which is the one an operator can act on (e.g. "port in use"). */
function rootCause(e: unknown): string {
  let cur = e as { message?: string; cause?: unknown };
  while (cur.cause instanceof Error) cur = cur.cause;
  return cur.message?.replace(/^child \S+ crashed: /, '') ?? String(e);
}

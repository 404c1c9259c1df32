// The process's own controls over the API (issue 15, cluster operations): leave the cluster
// and exit, reload the config as SIGHUP does, and stream the agent's log lines.
//
//   POST /v1/agent/leave                 202, then a graceful leave; the process exits LEFT_EXIT_CODE
//   POST /v1/agent/reload                {"applied": [...], "needRestart": [...], "errors": [...]}
//   GET  /v1/agent/monitor?level=info    NDJSON: each log line at that level and above
import { ApiError, type ApiServer } from './api.js';
import { LOG_LEVELS, type LogTap } from './log.js';

/**
 * The exit status after `weft leave`: not 0, so that the unit's Restart=always can tell it
 * from a crash or a stop, and its RestartPreventExitStatus keeps a node that left down.
 */
export const LEFT_EXIT_CODE = 10;

export interface ReloadResult {
  applied: string[];
  needRestart: string[];
  errors: string[];
}

export interface DaemonControls {
  leave(): void;
  reload(): Promise<ReloadResult>;
  tap: LogTap;
}

export function registerDaemonRoutes(api: ApiServer, controls: DaemonControls): void {
  api.route('POST', '/v1/agent/leave', () => {
    // After this answer is written: the stop closes the API.
    setImmediate(() => controls.leave());
    return { status: 202, body: { leaving: true } };
  });
  api.route('POST', '/v1/agent/reload', async () => ({ body: await controls.reload() }));
  api.route('GET', '/v1/agent/monitor', (req) => {
    const level = req.query.get('level') ?? 'info';
    if (!(level in LOG_LEVELS))
      throw new ApiError(400, `level ${JSON.stringify(level)}: one of ${Object.keys(LOG_LEVELS).join(', ')}`);
    return { stream: (send) => controls.tap.subscribe(level, send) };
  });
}

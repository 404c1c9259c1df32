// The two pure decisions of an OTP supervisor: whether an ended child comes back,
// and which siblings go down and come back with it.
import type { RestartType, Strategy } from './types.js';

/** OTP: permanent always; transient only after an abnormal exit; temporary never. */
export function shouldRestart(restart: RestartType, normalExit: boolean): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return !normalExit;
    case 'temporary':
      return false;
  }
}

/**
 * Ids to stop (in reverse of the returned order) and start again (in order) when
 * `failed` is restarted. `order` is the start order of the children still known
 * to the supervisor.
 */
export function restartScope(strategy: Strategy, order: readonly string[], failed: string): string[] {
  const at = order.indexOf(failed);
  if (at < 0) throw new Error(`restartScope: ${failed} is not among the children`);
  switch (strategy) {
    case 'one_for_one':
      return [failed];
    case 'one_for_all':
      return [...order];
    case 'rest_for_one':
      return order.slice(at);
  }
}

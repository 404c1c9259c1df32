// A supervisor as a child of another supervisor: how trees are built, and how giving
// up escalates (the parent sees this child crash and applies its own strategy).
import { Supervisor } from './supervisor.js';
import type { ChildSpec, RestartType, SupervisorOptions } from './types.js';

export interface SupervisorChildOptions extends SupervisorOptions {
  /** Default `permanent`, as OTP's supervisor children usually are. */
  restart?: RestartType;
  /** Default `Infinity` (OTP's `infinity` for supervisors): its own children's shutdownMs already bound the stop. */
  shutdownMs?: number;
}

export function supervisorChild(id: string, options: SupervisorChildOptions): ChildSpec {
  const { restart = 'permanent', shutdownMs = Infinity, ...supervisor } = options;
  return {
    id,
    restart,
    shutdownMs,
    async start(ctx) {
      const sup = new Supervisor(supervisor, ctx);
      // Rejects if it gives up while starting its children; the parent counts that as a crash.
      await sup.start();
      return sup;
    },
  };
}

// Public API of weft's supervision tree (docs/ARCHITECTURE.md, "Supervision tree").
export type {
  Child,
  ChildContext,
  ChildSpec,
  ChildState,
  ChildStatus,
  RestartType,
  Strategy,
  SupervisorEvent,
  SupervisorOptions,
} from './types.js';
export { Supervisor } from './supervisor.js';
export { supervisorChild, type SupervisorChildOptions } from './supervisor-child.js';
export { GaveUpError } from './errors.js';
export { DEFAULT_INTENSITY } from './intensity.js';

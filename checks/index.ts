// Health checks, run by the node that owns the endpoint: this folder owns what a check is
// as a person writes it (spec.ts), when checks run and what their results mean (the
// sans-IO scheduler with HAProxy-style rise/fall, scheduler.ts and state.ts), the probes
// (probes.ts: http, tcp, script; exec-probe.ts: a script inside the endpoint's container)
// and the driver that joins them (runner.ts). What a check looks like in the replicated
// record, and how readers treat its status, is records/checks.ts.
export { DEFAULTS as CHECK_DEFAULTS } from './defaults.js';
export { parseCheckSpec, parseCheckSpecs, KIND_FIELDS, SETTING_FIELDS, type SpecOptions } from './spec.js';
export { CheckScheduler, type Outcome, type Transition } from './scheduler.js';
export { CheckRunner, probeAddress } from './runner.js';
export { PROBES, httpProbe, tcpProbe, scriptProbe } from './probes.js';
export { ContainerExec } from './exec-probe.js';
export { parseExecCommand } from './exec-command.js';

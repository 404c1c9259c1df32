// The Docker registrar: containers labelled weft.service on the local engine become this
// node's endpoint records in the store. See registrar.ts for the behaviour, labels.ts for
// the label syntax, container.ts for how a container maps to a record.
export {
  Registrar,
  resolveSocket,
  DEFAULT_SOCKET,
  type RegistrarOptions,
  type RegistrarStatus,
  type EndpointStore,
} from './registrar.js';
export type { RegistrarLogger } from './engine.js';
export { importDockerode } from './engine.js';
export { parseLabels, type ParsedLabels, type LabelProblem } from './labels.js';
export { mapContainer, type InspectInfo, type Mapped } from './container.js';

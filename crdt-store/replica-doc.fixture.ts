// Real ReplicaDocs for tests of what sits on top of them (holders, views): one per call,
// each in an epoch of its own, holding `values` as JSON text.
import { ReplicaDoc } from './replica-doc.js';
import { DEFAULT_VALUE_LIMITS } from './json-value.js';
import { actorId, SHARED_OWNER } from './names.js';

let epochs = 0;

export function docOf(owner: string, values: Record<string, unknown> = {}): ReplicaDoc {
  const kind = owner === SHARED_OWNER ? ({ kind: 'shared', bucket: 0 } as const) : ({ kind: 'own', owner } as const);
  const id = owner === SHARED_OWNER ? 's/0' : `n/${owner}`;
  const doc = ReplicaDoc.create(
    id,
    kind,
    ++epochs,
    actorId(owner === SHARED_OWNER ? 'shared' : owner, epochs),
    DEFAULT_VALUE_LIMITS,
  );
  for (const [k, v] of Object.entries(values)) doc.put(k, JSON.stringify(v));
  doc.commit();
  return doc;
}

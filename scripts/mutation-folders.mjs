// The folders `npm run mutation` knows (issue 18): for each, the source files Stryker mutates
// and the unit/property test files that cover them. No e2e or system tests: each mutant runs
// the covering test files again, so only tests that take seconds belong here.
// kill9.test.ts and dir-lock.test.ts are left out: they re-spawn node with the parent's
// execArgv, which carries Stryker's hook into the children (dir-lock's race then fails even
// unmutated); power-loss.test.ts covers the durability rule in-process.
// loader.fuzz.test.ts is left out too: every case opens the store three times, and each open
// spawns flock (dir-lock.ts), so a case takes about a second here and the file minutes per
// mutant (it also outlives tap's per-file limit when instrumented); journal.test.ts and
// files.test.ts reach the same loader paths in-process with chosen damage.
export const FOLDERS = {
  'membership/core': {
    mutate: ['membership/core/*.ts', '!membership/core/*.test.ts', '!membership/core/test-harness.ts'],
    // The glob takes in the *-edges, cert-pull and input/probe-edges files written against survivors (issue 18).
    tests: ['membership/core/*.test.ts'],
    // A whole run is 2–3 hours with one worker, and Stryker writes results only at the end, so
    // the folder is also run in parts (`npm run mutation -- membership/core:swim2`), each with its
    // own report. swim.ts's parts are line ranges cut at method boundaries.
    parts: {
      rest: [
        'membership/core/*.ts',
        '!membership/core/*.test.ts',
        '!membership/core/test-harness.ts',
        '!membership/core/swim.ts',
      ],
      // rest in two halves, each well under an hour with one worker on a busy machine
      rest1: ['membership/core/{config,guards,members,outbox,size,heap,timers,awareness,suspicion,math}.ts'],
      rest2: ['membership/core/{member-auth,broadcast-queue,probe-ring,index,outputs}.ts'],
      swim: ['membership/core/swim.ts'],
      swim1: ['membership/core/swim.ts:1-513'], // options, constructor, public API, dispatch
      swim2: ['membership/core/swim.ts:514-803'], // admission, probing, acks and nacks
      swim3: ['membership/core/swim.ts:804-1101'], // suspicion, dead, alive, refutation
      swim4: ['membership/core/swim.ts:1102-1485'], // gossip, push-pull, merge, own messages
    },
  },
  'crdt-store': {
    mutate: [
      'crdt-store/views.ts',
      'crdt-store/replica-doc.ts',
      'crdt-store/persist/*.ts',
      '!crdt-store/persist/*.test.ts',
      '!crdt-store/persist/*.fixture.ts',
    ],
    // The *-edges files first: they are fast, and a mutant one of them kills stops there (forceBail).
    tests: [
      'crdt-store/views-edges.test.ts',
      'crdt-store/replica-doc-edges.test.ts',
      'crdt-store/persist/journal-edges.test.ts',
      'crdt-store/persist/files-edges.test.ts',
      'crdt-store/persist/records-edges.test.ts',
      'crdt-store/persist/open-edges.test.ts',
      'crdt-store/views.test.ts',
      'crdt-store/replica-doc.test.ts',
      'crdt-store/local-store.test.ts',
      'crdt-store/conflict-winner.test.ts',
      'crdt-store/persist/journal.test.ts',
      'crdt-store/persist/files.test.ts',
      'crdt-store/persist/power-loss.test.ts',
      'crdt-store/persist/records.test.ts',
      'crdt-store/persist/dir-lock-same-process.test.ts',
    ],
  },
  dns: {
    mutate: ['dns/answer.ts', 'dns/zone.ts', 'dns/wire.ts'],
    // The *-edges files first: they are fast, and a mutant one of them kills stops there (forceBail).
    tests: [
      'dns/wire-edges.test.ts',
      'dns/answer-edges.test.ts',
      'dns/zone-edges.test.ts',
      'dns/answer.test.ts',
      'dns/zone.test.ts',
      'dns/fuzz.test.ts',
    ],
  },
  lb: {
    mutate: ['lb/allocator.ts', 'lb/nft-plan.ts'],
    tests: ['lb/allocator.test.ts', 'lb/nft-plan.test.ts', 'lb/nft-actual.test.ts', 'lb/allocator-edges.test.ts'],
  },
  overlay: {
    mutate: ['overlay/lease.ts', 'overlay/plan.ts'],
    tests: ['overlay/lease.test.ts', 'overlay/plan.test.ts'],
  },
  supervisors: {
    mutate: ['supervisors/*.ts', '!supervisors/*.test.ts'],
    tests: ['supervisors/*.test.ts'],
  },
};

/**
 * What `npm run mutation` runs for a name: a folder, or `folder:part` (a part names a subset of
 * the folder's sources, tested by the same test files). Undefined for an unknown name.
 */
export function target(name) {
  const [folder, part, extra] = name.replace(/\/+$/, '').split(':');
  const spec = FOLDERS[folder];
  if (!spec || extra !== undefined) return undefined;
  if (part === undefined)
    return { name: folder, slug: folder.replaceAll('/', '-'), mutate: spec.mutate, tests: spec.tests };
  const mutate = spec.parts?.[part];
  if (!mutate) return undefined;
  return { name: `${folder}:${part}`, slug: `${folder.replaceAll('/', '-')}-${part}`, mutate, tests: spec.tests };
}

/** Every name target() accepts, for error messages. */
export function targetNames() {
  return Object.entries(FOLDERS).flatMap(([f, s]) => [f, ...Object.keys(s.parts ?? {}).map((p) => `${f}:${p}`)]);
}

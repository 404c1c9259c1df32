// Opening a store on a data directory: the files, the journal over them, the store over
// the journal. One function, so the daemon, the tests and the benchmarks open it alike.

import { LocalStore, type LocalStoreOptions } from '../local-store.js';
import { FsStoreFiles, type StoreFiles } from './files.js';
import { Journal, type JournalOptions, type StoreFileError } from './journal.js';

export interface OpenedStore {
  store: LocalStore;
  /** Absent for a store kept in memory only. */
  journal?: Journal;
  /** What start-up found wrong with the files (torn tails, damage); the store opened anyway. */
  problems: StoreFileError[];
  /** Writes what is buffered, frees the documents, closes the files. */
  close(): void;
}

export function openStore(
  where: string | StoreFiles,
  opts: Omit<LocalStoreOptions, 'persistence'> & { journal?: Omit<JournalOptions, 'name'> },
): OpenedStore & { journal: Journal } {
  const files = typeof where === 'string' ? new FsStoreFiles(where) : where;
  const journal = new Journal(files, { ...opts.journal, name: opts.name });
  const store = new LocalStore({ ...opts, persistence: journal });
  return {
    store,
    journal,
    problems: journal.problems,
    close: () => {
      store.flushAuths();
      journal.close();
      store.close();
    },
  };
}

/** A store with no data directory: everything is lost when the process ends (`node.dataDir` empty). */
export function openMemoryStore(opts: Omit<LocalStoreOptions, 'persistence'>): OpenedStore {
  const store = new LocalStore(opts);
  return { store, problems: [], close: () => store.close() };
}

// `weft watch kv|service|members|vip`: runs a handler with what changed, level-triggered.
//
// Exactly once per change: every key that appears, takes a new value or goes away, relative
// to what the handler last saw, is in exactly one run, with its value as of that run's
// listing. Changes of one key within one quiet period, or while the agent was away, are one
// change (the handler gets the latest value; a value changed and changed back is none), as
// with Consul's watches. A run counts whatever its exit status: a failed handler is reported,
// not run again with the same changes (a handler that always fails would otherwise loop).
// After the agent comes back, the next pass lists the state again and diffs it against what
// the handler last saw: the changes missed, none twice. A new `weft watch` process starts from
// nothing: its first run gets the current state (every key as a put, `initial: true`).
//
// Passes run on base/reconcile-runner: a change (from the agent's stream where the kind has
// one) asks for a pass quietMs later, sharing it with every change in that window; the state is
// also listed every pollMs; a pass that cannot reach the agent retries with backoff; and one
// pass (one handler run) at a time.
import { ReconcileRunner, type ReconcileStatus } from '../../base/reconcile-runner.js';
import { callApi, openStream, streamJson, type ApiTarget } from '../commands/client.js';
import { diffSnapshots, snapshotOf, type Snapshot, type WatchChange, type WatchKind } from './snapshot.js';

export interface StateWatchOptions {
  target: ApiTarget;
  kindName: string;
  kind: WatchKind;
  prefix: string;
  quietMs: number;
  pollMs: number;
  /** Runs the handler (or prints) with one batch of changes; resolves when it is done. */
  deliver: (batch: WatchBatch) => Promise<void>;
  /** One line for the person watching (stderr). */
  say: (line: string) => void;
}

/** What a handler gets on stdin. */
export interface WatchBatch {
  kind: string;
  prefix: string;
  /** 1, 2, ...: the run's number in this watch. */
  run: number;
  /** The first run: the state as found, not changes seen happen. */
  initial: boolean;
  changes: WatchChange[];
}

export class StateWatcher {
  private handled: Snapshot = new Map();
  private runs = 0;
  private readonly runner: ReconcileRunner;
  private away = false;
  private stopped = false;

  constructor(private readonly o: StateWatchOptions) {
    this.runner = new ReconcileRunner({
      pass: () => this.pass(),
      debounceMs: o.quietMs,
      minIntervalMs: o.quietMs,
      fullEveryMs: o.pollMs,
      retryBaseMs: 250,
      retryMaxMs: 5_000,
      retryJitter: 0.2,
      onPass: (s) => this.report(s),
    });
  }

  /** The first pass (it throws when the agent cannot be reached or refuses), then the loop. */
  async start(): Promise<void> {
    await this.pass();
    this.runner.start();
    if (this.o.kind.stream) void this.follow(this.o.kind.stream(this.o.prefix));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.runner.stop();
  }

  private async pass(): Promise<{ changed: boolean }> {
    const body = await callApi(this.o.target, 'GET', this.o.kind.path(this.o.prefix));
    const now = snapshotOf(this.o.kind, body, this.o.prefix);
    const changes = diffSnapshots(this.handled, now);
    const initial = this.runs === 0;
    if (!changes.length && !initial) return { changed: false };
    // Taken before the run: these changes are this run's, whatever the handler does.
    this.handled = now;
    this.runs++;
    await this.o.deliver({ kind: this.o.kindName, prefix: this.o.prefix, run: this.runs, initial, changes });
    return { changed: true };
  }

  private report(s: ReconcileStatus): void {
    if (!s.ok && !this.away) {
      this.away = true;
      this.o.say(
        `cannot list the state from the agent at ${this.o.target.base} (${s.error ?? 'error'}); retrying (Ctrl-C stops)`,
      );
    } else if (s.ok && this.away) {
      this.away = false;
      this.o.say(`the agent at ${this.o.target.base} answers again; handling what changed meanwhile`);
    }
  }

  /** Follows the agent's change stream: each line asks for a pass; a reconnect asks for one too (resync). */
  private async follow(path: string): Promise<void> {
    let backoffMs = 250;
    while (!this.stopped) {
      const res = await openStream(this.o.target, path, true).catch(() => undefined);
      if (!res) {
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 5_000);
        continue;
      }
      backoffMs = 250;
      this.runner.request();
      // The current entries (initial) are what the pass lists anyway; each change after asks for one.
      for await (const line of streamJson<{ initial?: boolean }>(res)) {
        if (this.stopped) return;
        if (!line.initial) this.runner.request();
      }
    }
  }
}

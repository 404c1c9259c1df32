// `weft watch event [NAME]`: one handler run per user event this node delivers, in order.
// The agent's stream carries each event's seq and the agent's boot id; after a broken
// connection the watch asks to resume after the last seq it handled, so an event is handled
// once even across reconnects. A restarted agent has a new boot id: events fired while it was
// down did not reach this node (as with serf), and it delivers from its start on.
import { deliver, type WatchFlags } from './deliver.js';
import { openStream, streamJson } from '../commands/client.js';
import type { EventJson } from '../events/agent-events.js';

const say = (line: string) => process.stderr.write(`weft watch: ${line}\n`);

export async function watchEvents(flags: WatchFlags, name: string): Promise<void> {
  process.once('SIGINT', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
  let last: { boot: string; seq: number } | undefined;
  let connectedOnce = false;
  let backoffMs = 250;
  // Handler runs go one at a time, in order, while the stream keeps being read.
  let chain = Promise.resolve();
  for (;;) {
    const resume = last ? `&boot=${encodeURIComponent(last.boot)}&after=${last.seq}` : '';
    const res = await openStream(
      flags.target,
      `/v1/event?watch=true&name=${encodeURIComponent(name)}${resume}`,
      connectedOnce,
    );
    if (!res) {
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 5_000);
      continue;
    }
    if (connectedOnce) say(`reconnected to the agent at ${flags.target.base}`);
    connectedOnce = true;
    backoffMs = 250;
    for await (const e of streamJson<EventJson & { error?: string }>(res)) {
      if (e.error) {
        say(e.error);
        continue;
      }
      if (last && last.boot === e.boot && e.seq <= last.seq) continue;
      last = { boot: e.boot, seq: e.seq };
      const env = {
        WEFT_WATCH_KIND: 'event',
        WEFT_WATCH_PREFIX: name,
        WEFT_WATCH_RUN: String(e.seq),
        WEFT_EVENT_NAME: e.name,
        WEFT_EVENT_ORIGIN: e.origin,
      };
      chain = chain.then(() =>
        deliver(flags, { kind: 'event', name: e.name, origin: e.origin, lamport: e.lamport, payload: e.payload }, env),
      );
    }
    say(`the agent at ${flags.target.base} closed the watch (it stopped or restarted); reconnecting (Ctrl-C stops)`);
  }
}

// The little of nact the supervision tree uses: an actor whose mailbox runs one async
// handler at a time, and the system that roots the tree.
import { dispatch, spawn, start, stop, type ActorSystemRef, type Ref } from 'nact';

export type { ActorSystemRef, Ref };
export { dispatch, stop };

export function newActorSystem(): ActorSystemRef {
  return start();
}

/**
 * Spawns an actor that handles messages strictly one after another, awaiting each.
 * `onFault` receives an error that escaped `handle`: nact's default policy would
 * console.log it and stop the actor, so the actor resumes with the next message instead
 * and the owner decides what the fault means.
 */
export function spawnSerial<Msg>(
  parent: Ref<unknown>,
  name: string,
  handle: (msg: Msg) => Promise<void>,
  onFault: (err: unknown) => void,
): Ref<Msg> {
  return spawn(
    parent,
    async (state: undefined, msg: Msg): Promise<undefined> => {
      await handle(msg);
      return state;
    },
    actorName(name),
    {
      onCrash: (_msg, err, ctx) => {
        try {
          onFault(err);
        } catch {
          // The fault handler is the last line; nothing may leave this policy.
        }
        return ctx.resume;
      },
    },
  );
}

let uniq = 0;

/** nact accepts only RFC 1738 characters in names, and names must be unique among siblings. */
function actorName(name: string): string {
  uniq = (uniq + 1) % Number.MAX_SAFE_INTEGER;
  return `${name.replace(/[^a-z0-9\-$_.+!*'(),]/gi, '_')}.${uniq}`;
}

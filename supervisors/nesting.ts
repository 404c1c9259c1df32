// What a supervisor started as a child needs from its parent (where to hang its actor
// in nact's tree, where to send events) without widening ChildContext for every
// component author.
import type { Ref } from './actors.js';
import type { ChildContext, SupervisorEvent } from './types.js';

export interface NestingLink {
  /** The nact actor of the child slot this context belongs to. */
  parentActor: Ref<unknown>;
  /** The parent's event sink (which already forwards to its own parent). */
  emit: (event: SupervisorEvent) => void;
}

const links = new WeakMap<ChildContext, NestingLink>();

export function linkContext(ctx: ChildContext, link: NestingLink): void {
  links.set(ctx, link);
}

export function nestingLinkOf(ctx: ChildContext): NestingLink | undefined {
  return links.get(ctx);
}

// How many bytes a message takes on the wire. The default is msgpackr's size of the
// plain object, an upper bound for the codec's positional encoding; the daemon may plug
// in the codec's exact measure through the core options.

import { pack } from 'msgpackr';
import type { Message } from '../messages.js';

export type MeasureFn = (msg: Message) => number;

export const msgpackSize: MeasureFn = (msg) => pack(msg).length;

/**
 * Memoise a measure per message object. Messages are immutable once built and gossip
 * passes the same object along many times (in the simulator, across nodes too), so this
 * turns repeated encodings into a lookup.
 */
export function memoized(measure: MeasureFn): MeasureFn {
  const cache = new WeakMap<object, number>();
  return (msg) => {
    let size = cache.get(msg);
    if (size === undefined) {
      size = measure(msg);
      cache.set(msg, size);
    }
    return size;
  };
}

/** The default measure, shared by every core so shared messages are encoded once. */
export const defaultMeasure: MeasureFn = memoized(msgpackSize);

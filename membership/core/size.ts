// How many bytes a message takes on the wire. The default is msgpackr's size of the
// plain object, an upper bound for the codec's positional encoding; the daemon may plug
// in the codec's exact measure through the core options.

import { pack } from 'msgpackr';
import type { Message } from '../messages.js';

export type MeasureFn = (msg: Message) => number;

export const msgpackSize: MeasureFn = (msg) => pack(msg).length;

// Errors the supervision tree creates or normalises.

/** Components may crash with anything (a string, an object); events always carry an Error. */
export function asError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return new Error(`non-Error thrown: ${text}`);
}

/** Why a supervisor stopped all its children and escalated. */
export class GaveUpError extends Error {
  override readonly name = 'GaveUpError';
  constructor(
    readonly supervisor: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// What a component logs through. pino's Logger fits, and so does a console-like object or a
// test's capture; components take this instead of importing the daemon's logger (src/log.ts).
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

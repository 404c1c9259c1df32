/** Bad flags or arguments: the user typed something wrong (exit 2). */
export class UsageError extends Error {}
/** The command understood its input but could not do it (exit 1). */
export class CommandFailed extends Error {}

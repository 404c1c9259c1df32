// The command of a script check that runs inside a container (weft.check.script on a
// container, exec-probe.ts): an argv, never a shell string. The label is written by
// whoever starts the container, so nothing in it is given to a shell unless the label
// itself names one.
//
//   weft.check.script=/usr/local/bin/check-db --quick     words split on spaces
//   weft.check.script=["/bin/check", "two words"]         a JSON list of strings (Docker's exec form)
//   weft.check.script=["sh", "-c", "pg_isready || exit 2"]  a shell, because the label asks for one
//
// In the space-split form, a character a shell would treat specially (; | & $ ` < > ( ) { }
// * ? ~ ! # quotes, backslash) is refused rather than passed on literally: whoever wrote
// `check; rm -rf /` meant a shell, and silently running `check` with the argument `;` would
// hide that. They are fine inside the JSON form, where nothing interprets them.

/** The text of a check's command, at most (records/checks.ts keeps targets to 512). */
export const MAX_COMMAND_CHARS = 512;
/** Words of a command, at most. */
export const MAX_COMMAND_WORDS = 32;

const SHELL_CHARS = /[;|&$`<>(){}*?~!#'"\\]/;
// Control characters (NUL, newlines, escapes...) in either form.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** The argv of a container script check, or why it is refused (a short reason for the log). */
export function parseExecCommand(text: string): string[] | string {
  if (text.length > MAX_COMMAND_CHARS) return `script: at most ${MAX_COMMAND_CHARS} characters (got ${text.length})`;
  if (CONTROL.test(text)) return 'script: one line, without control characters';
  const argv = text.trimStart().startsWith('[') ? jsonArgv(text) : wordArgv(text);
  if (typeof argv === 'string') return argv;
  if (argv.length === 0 || argv[0] === '') return 'script: a command to run, such as /usr/local/bin/check';
  if (argv.length > MAX_COMMAND_WORDS) return `script: at most ${MAX_COMMAND_WORDS} words (got ${argv.length})`;
  return argv;
}

function jsonArgv(text: string): string[] | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'script: a JSON list such as ["/bin/check", "--quick"] is not valid JSON';
  }
  if (!Array.isArray(v) || !v.every((w) => typeof w === 'string'))
    return 'script: the JSON form is a list of strings, such as ["/bin/check", "--quick"]';
  return v as string[];
}

function wordArgv(text: string): string[] | string {
  const bad = SHELL_CHARS.exec(text);
  if (bad)
    return `script: ${JSON.stringify(bad[0])} is for a shell, and this command is not run by one; write the JSON form, ["sh", "-c", "..."] to ask for a shell`;
  return text.split(' ').filter((w) => w !== '');
}

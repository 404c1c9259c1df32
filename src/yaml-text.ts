// YAML as weft reads it from disk: the config file (src/config.ts) and the service files
// (src/service-files.ts), one reader with one set of limits. The yaml package alone is not
// enough: measured here, 800 KB of "[" took it 11 s of CPU and 520 MB before its own stack
// guard answered, and a few thousand levels of block nesting crash its composer. So the text
// is bounded and its nesting measured by the lexer (linear, quoting-aware) before any parse.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export const YAML_LIMITS = {
  /** Bytes in one file. */
  maxBytes: 256 * 1024,
  /** Nesting of flow collections ([...], {...}). */
  maxFlowDepth: 32,
  /** Columns of indentation plus block indicators ("- ", "? ") on one line: bounds block nesting. */
  maxIndent: 128,
  /** Alias expansions while building the value (the yaml package's guard against alias bombs). */
  maxAliasCount: 100,
} as const;

export type YamlResult = { value: unknown } | { error: string; line?: number };

/** The text of a regular file of at most `maxBytes`, or why not. Never blocks on a FIFO or device. */
export function readBoundedFile(
  path: string,
  maxBytes: number = YAML_LIMITS.maxBytes,
): { text: string } | { error: string } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return { error: code === 'ELOOP' ? 'cannot be read (a symlink loop)' : `cannot be read (${code})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { error: 'is not a regular file' };
    if (st.size > maxBytes) return { error: `is ${st.size} bytes; at most ${maxBytes} are read` };
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r = 1; r > 0 && n <= maxBytes; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > maxBytes) return { error: `grew past ${maxBytes} bytes while being read` };
    return { text: buf.subarray(0, n).toString('utf8') };
  } catch (e) {
    return { error: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    closeSync(fd);
  }
}

/** Where the text nests deeper than the limits allow, or undefined. */
export function nestingProblem(
  text: string,
  { CST, Lexer }: typeof import('yaml'),
): { error: string; line: number } | undefined {
  let line = 1;
  let depth = 0;
  let lineStart = true;
  let columns = 0;
  for (const tok of new Lexer().lex(text)) {
    const type = CST.tokenType(tok);
    if (type === 'newline') {
      line++;
      lineStart = true;
      columns = 0;
      continue;
    }
    if (type === 'space' && lineStart) columns += tok.length;
    else if (type === 'seq-item-ind' || type === 'explicit-key-ind') columns += 2;
    else if (type === 'flow-seq-start' || type === 'flow-map-start') depth++;
    else if (type === 'flow-seq-end' || type === 'flow-map-end') depth = Math.max(0, depth - 1);
    // Multi-line scalars hold their own newlines.
    else if (typeof tok === 'string') line += (tok.match(/\n/g) ?? []).length;
    if (type !== 'space') lineStart = false;
    if (depth > YAML_LIMITS.maxFlowDepth)
      return { error: `nested deeper than ${YAML_LIMITS.maxFlowDepth} levels of [ ] and { }`, line };
    if (columns > YAML_LIMITS.maxIndent)
      return { error: `indented deeper than ${YAML_LIMITS.maxIndent} columns (too deeply nested)`, line };
  }
  return undefined;
}

/** The value of one YAML (or JSON) document, or the first problem with it. */
export async function parseYamlText(text: string): Promise<YamlResult> {
  if (Buffer.byteLength(text) > YAML_LIMITS.maxBytes)
    return { error: `is over ${YAML_LIMITS.maxBytes} bytes; at most that many are read` };
  // yaml is only needed when a file is given; keep it off the default start path.
  const yaml = await import('yaml');
  const deep = nestingProblem(text, yaml);
  if (deep) return deep;
  const doc = yaml.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    return {
      error: `not valid YAML (${e.code}: ${e.message.split('\n')[0]!.replace(/ at line.*/, '')})`,
      ...(e.linePos?.[0] ? { line: e.linePos[0].line } : {}),
    };
  }
  try {
    return { value: doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount }) };
  } catch (e) {
    // The yaml package's alias-bomb guard throws.
    return { error: `not usable YAML (${(e as Error).message.split('\n')[0]})` };
  }
}

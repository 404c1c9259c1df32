// An HTTP/1.x response as far as a health check needs it: the status, the first bytes of the
// body, whether it is complete, and whether the connection can carry the next check. Pure:
// called with everything received so far (at most a few KB: the probe stops reading at
// DEFAULTS.maxBodyBytes), so the framing is re-read each time instead of kept as state.
export interface Parsed {
  code: number;
  /** The body so far (decoded from chunks), at most maxBody bytes, as text. */
  body: string;
  /** Nothing more to wait for: the whole answer, or as much as is read. */
  complete: boolean;
  /** The connection ends exactly after this answer and the server keeps it open. */
  keepAlive: boolean;
}

const STATUS = /^HTTP\/1\.([01]) ([0-9]{3})/;

/** undefined: wait for more; 'bad': not HTTP. `ended`: the server closed its side. */
export function parseResponse(buf: Buffer, maxBody: number, ended: boolean): Parsed | 'bad' | undefined {
  const status = STATUS.exec(buf.subarray(0, 16).toString('latin1'));
  if (!status) return buf.length >= 12 || ended ? 'bad' : undefined;
  const code = Number(status[2]);
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (ended || buf.length >= maxBody) return { code, body: '', complete: true, keepAlive: false };
    return undefined;
  }
  const headers = headerMap(buf.subarray(0, headEnd).toString('latin1'));
  const conn = headers.get('connection')?.toLowerCase();
  const persistent = status[1] === '1' ? conn !== 'close' : conn === 'keep-alive';
  const rest = buf.subarray(headEnd + 4);
  const done = (body: Buffer, complete: boolean, exact: boolean): Parsed | undefined =>
    complete || ended
      ? {
          code,
          body: body.subarray(0, maxBody).toString('utf8'),
          complete: true,
          keepAlive: persistent && exact && !ended,
        }
      : undefined;
  if (code < 200 || code === 204 || code === 304) return done(rest.subarray(0, 0), true, rest.length === 0);
  const te = headers.get('transfer-encoding')?.toLowerCase();
  if (te !== undefined) {
    if (te !== 'chunked') return done(rest, rest.length >= maxBody, false);
    const c = dechunk(rest, maxBody);
    if (c === 'bad') return 'bad';
    return done(c.body, c.end !== undefined || c.body.length >= maxBody, c.end === rest.length);
  }
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    if (!/^[0-9]{1,15}$/.test(cl)) return 'bad';
    const len = Number(cl);
    return done(rest.subarray(0, len), rest.length >= Math.min(len, maxBody), rest.length === len);
  }
  // Delimited by the close: never kept.
  return done(rest, rest.length >= maxBody, false);
}

function headerMap(head: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) m.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return m;
}

/** The body of a chunked encoding so far; `end`: the offset just after its last chunk and trailers, once seen. */
function dechunk(buf: Buffer, maxBody: number): { body: Buffer; end?: number } | 'bad' {
  const parts: Buffer[] = [];
  let size = 0;
  let at = 0;
  while (size < maxBody) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const m = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(buf.subarray(at, eol).toString('latin1'));
    if (!m) return 'bad';
    const n = parseInt(m[1]!, 16);
    if (n === 0) {
      // The last chunk; then trailers, if any, up to an empty line.
      const body = Buffer.concat(parts, size);
      if (buf.length < eol + 4) return { body };
      if (buf[eol + 2] === 13 && buf[eol + 3] === 10) return { body, end: eol + 4 };
      const end = buf.indexOf('\r\n\r\n', eol + 2);
      return end < 0 ? { body } : { body, end: end + 4 };
    }
    const data = buf.subarray(eol + 2, eol + 2 + n);
    parts.push(data);
    size += data.length;
    if (data.length < n) break;
    at = eol + 2 + n + 2;
  }
  return { body: Buffer.concat(parts, size) };
}

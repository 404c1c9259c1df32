// The length msgpackr gives a value, without packing it: wire.ts's encodedSize, for a
// simulator that hands messages on whole and only counts their bytes. Each rule is the one
// msgpackr 2.x (wire.ts's options: no records, no extra types) writes; msgpack-size.test.ts
// packs arbitrary values of every kind here and compares, so an upgrade that changes one fails.

/** A header of an array of `n` elements: fixarray, array16 or array32. */
export const arrayHeaderSize = (n: number): number => (n < 0x10 ? 1 : n < 0x10000 ? 3 : 5);

/** Binary of `n` bytes: bin8, bin16 or bin32 and the bytes. */
export const binSize = (n: number): number => n + (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

/** A number: an int32 or uint32 in its smallest form (fixints to 127 and from -32), else a float64. */
export function numberSize(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  return 9;
}

/** A string: its UTF-8 bytes after a fixstr, str8, str16 or str32 header. */
export function stringSize(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    // As msgpackr encodes: a surrogate pair is 4 bytes, a lone surrogate 3, like any other unit above 0x7ff.
    if (c < 0x800) n += 1;
    else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2;
      i++;
    } else n += 2;
  }
  return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

// An endpoint's tags, metadata and instance name: the operator's words about one endpoint
// (issue 14). They come from Docker labels and API bodies, that is from whoever can start a
// container or call the API, so everything here is bounded, and one bound is checked in one
// place: the writers (registrar/labels.ts, the API) refuse what a reader (parseEndpointRecord)
// would refuse.
//
//   tags   DNS labels (each appears in a name: <tag>.<service>.svc.<domain>), at most
//          MAX_TAGS, no repeats. "--" is reserved: readable instance names put their
//          collision suffix after it (dns/instance-names.ts), so no tag can be taken for one.
//   meta   at most MAX_META pairs; keys 1-64 of A-Z a-z 0-9 _ . -, values up to 512
//          characters without control characters (they are printed in tables).
//   name   the instance's name as given (a container name); DNS uses it sanitised. Absent:
//          the registration id in the record's key.

export const MAX_TAGS = 32;
export const MAX_META = 32;
export const MAX_META_VALUE = 512;
export const MAX_NAME = 128;

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const META_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** Why a tag cannot be one, or undefined. */
export function tagProblem(tag: unknown): string | undefined {
  if (typeof tag !== 'string' || !DNS_LABEL.test(tag)) {
    return `tag ${JSON.stringify(tag)} must be a DNS label: 1-63 of a-z, 0-9 and -, not starting or ending with -`;
  }
  if (tag.includes('--')) return `tag ${JSON.stringify(tag)}: "--" is reserved for instance names`;
  return undefined;
}

/** Why a list of tags cannot be an endpoint's, or undefined. */
export function tagsProblem(tags: unknown): string | undefined {
  if (!Array.isArray(tags)) return 'tags must be a list of DNS labels';
  if (tags.length > MAX_TAGS) return `${tags.length} tags; at most ${MAX_TAGS} are allowed`;
  for (const tag of tags) {
    const p = tagProblem(tag);
    if (p) return p;
  }
  if (new Set(tags).size !== tags.length) return 'a tag is given twice';
  return undefined;
}

/** Why a meta key and value cannot be one pair, or undefined. */
export function metaPairProblem(key: string, value: unknown): string | undefined {
  if (!META_KEY.test(key)) return `meta key ${JSON.stringify(key)} must be 1-64 of A-Z, a-z, 0-9, _, . and -`;
  if (typeof value !== 'string') return `meta ${key}: the value must be text`;
  if (value.length > MAX_META_VALUE)
    return `meta ${key}: the value is ${value.length} characters; at most ${MAX_META_VALUE}`;
  if (CONTROL.test(value)) return `meta ${key}: the value holds a control character`;
  return undefined;
}

/** Why an object cannot be an endpoint's meta, or undefined. */
export function metaProblem(meta: unknown): string | undefined {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return 'meta must be {"<key>": "<value>"}';
  const entries = Object.entries(meta);
  if (entries.length > MAX_META) return `${entries.length} meta pairs; at most ${MAX_META} are allowed`;
  for (const [k, v] of entries) {
    const p = metaPairProblem(k, v);
    if (p) return p;
  }
  return undefined;
}

/** Why a text cannot be an instance name, or undefined. Any printable ASCII: DNS gets it sanitised. */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME || !/^[\x21-\x7e]+$/.test(name)) {
    return `instance name must be 1-${MAX_NAME} printable ASCII characters without spaces`;
  }
  return undefined;
}

export interface EndpointExtras {
  tags?: string[];
  meta?: Record<string, string>;
  name?: string;
}

/**
 * The tags, meta and name of a stored endpoint value, or undefined when any of them is
 * present and wrong. Absent fields (records of older nodes) stay absent.
 */
export function parseEndpointExtras(v: Record<string, unknown>): EndpointExtras | undefined {
  const out: EndpointExtras = {};
  if (v.tags !== undefined) {
    if (tagsProblem(v.tags)) return undefined;
    out.tags = [...(v.tags as string[])];
  }
  if (v.meta !== undefined) {
    if (metaProblem(v.meta)) return undefined;
    out.meta = { ...(v.meta as Record<string, string>) };
  }
  if (v.name !== undefined) {
    if (nameProblem(v.name)) return undefined;
    out.name = v.name as string;
  }
  return out;
}

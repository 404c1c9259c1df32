// The tag and meta labels of a container (issue 14), read as parseLabels (labels.ts) reads
// the others: pure, nothing trimmed, each refused value a problem with its reason and the
// rest still used. The bounds are the records' (records/endpoint-tags.ts).
//
//   weft.tags=<tag>,<tag>...   tags: DNS labels, for <tag>.<service>.svc.<domain> and ?tag=
//   weft.meta.<key>=<value>    one pair of the endpoint's meta
import { MAX_META, MAX_TAGS, metaPairProblem, tagProblem } from '../records/endpoint-tags.js';

export const TAGS_LABEL = 'weft.tags';
export const META_PREFIX = 'weft.meta.';

export interface TagLabels {
  tags: string[];
  meta: Record<string, string>;
}

type Problem = (label: string, value: string, reason: string) => void;

/** Reads `label` into `out` when it is a tag or meta label; false when it is neither. */
export function readTagLabel(label: string, value: string, out: TagLabels, problem: Problem): boolean {
  if (label === TAGS_LABEL) {
    readTags(value, out, (reason) => problem(label, value, reason));
    return true;
  }
  if (!label.startsWith(META_PREFIX)) return false;
  const key = label.slice(META_PREFIX.length);
  const refused = metaPairProblem(key, value);
  if (refused) problem(label, value, refused);
  else if (Object.keys(out.meta).length >= MAX_META)
    problem(label, value, `more than ${MAX_META} weft.meta.* labels; this one is left out`);
  else out.meta[key] = value;
  return true;
}

function readTags(value: string, out: TagLabels, problem: (reason: string) => void): void {
  if (value === '') return;
  for (const tag of value.split(',')) {
    const refused = tagProblem(tag);
    if (refused) problem(refused);
    else if (out.tags.includes(tag)) continue;
    else if (out.tags.length >= MAX_TAGS)
      return problem(`more than ${MAX_TAGS} tags; ${tag} and the ones after it are left out`);
    else out.tags.push(tag);
  }
}

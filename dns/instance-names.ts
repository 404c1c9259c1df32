// Readable instance names: `<instance>.<service>.svc.<domain>` for one endpoint, and the
// target of its SRV records. The name comes from the container's name (Docker) or the
// registration id (API), sanitised to a DNS label, and must be the same on every node
// whatever order the records arrived in. So it is a function of the set of endpoints of
// the service, never of history:
//
//   - sanitise: lower case, every run of characters other than a-z 0-9 becomes one '-',
//     no '-' at either end, at most 63 characters ("" becomes "instance"). A sanitised
//     name never holds "--".
//   - an endpoint whose sanitised name no other endpoint of its service shares, and that is
//     no tag of the service, is called by it;
//   - otherwise every endpoint of that name gets `<name>--<8 hex of sha1(node/id)>`: the
//     "--" keeps these apart from plain names (which never hold it) and from tags (which
//     may not hold it, records/endpoint-tags.ts).
//
// Tags win over instance names: `primary.web.svc` answers the endpoints tagged primary,
// even when a container is named primary (that one is then primary--<hash>). A tag is the
// operator's choice for a set of endpoints; a container's name is often Docker's.
//
// The cost of an arrival or departure is one endpoint, unless it turns a plain name into a
// shared one or back (then the few endpoints of that name), or a tag appears or goes (then
// the endpoints named as it).
import { createHash } from 'node:crypto';

const MAX_LABEL = 63;
const HASH_HEX = 8;
const SUFFIX = '--';

/** A name as a DNS label: see the rules above. */
export function sanitiseLabel(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_LABEL)
    .replace(/-+$/, '');
  return s === '' ? 'instance' : s;
}

/** The name of an endpoint whose sanitised name is shared (or is a tag). */
export function suffixedLabel(base: string, node: string, id: string): string {
  const hash = createHash('sha1').update(`${node}/${id}`).digest('hex').slice(0, HASH_HEX);
  const head = base.slice(0, MAX_LABEL - SUFFIX.length - HASH_HEX).replace(/-+$/, '');
  return `${head}${SUFFIX}${hash}`;
}

export interface InstanceInput {
  service: string;
  node: string;
  id: string;
  /** The name as given (container name, or the registration id). */
  name: string;
  tags: readonly string[];
}

interface Instance extends InstanceInput {
  base: string;
  /** Its name when the base is shared, computed once. */
  suffixed?: string;
}

interface Group {
  keys: Set<string>;
  /** Whether its one endpoint has the plain name, as of the last renaming (undefined: never named). */
  plain?: boolean;
}

interface ServiceState {
  /** sanitised name -> the endpoints that have it */
  groups: Map<string, Group>;
  /** tag -> how many endpoints carry it */
  tags: Map<string, number>;
}

/** The instance names of every endpoint, kept current one endpoint at a time. */
export class InstanceNames {
  private readonly services = new Map<string, ServiceState>();
  private readonly instances = new Map<string, Instance>();
  private readonly names = new Map<string, string>();

  nameOf(key: string): string | undefined {
    return this.names.get(key);
  }

  /**
   * Puts (or, with undefined, removes) the endpoint at `key`. Returns the keys of the other
   * endpoints whose names changed because of it: their records must be answered again.
   */
  set(key: string, input: InstanceInput | undefined): string[] {
    const touched = new Set<string>();
    const old = this.instances.get(key);
    if (old) this.remove(key, old, touched);
    if (input) this.add(key, input, touched);
    const changed: string[] = [];
    // The key's service is part of the key: old and new are of the same service.
    const service = input?.service ?? old?.service;
    if (service !== undefined) this.rename(service, touched, input ? key : undefined, changed);
    return changed.filter((k) => k !== key);
  }

  private state(service: string): ServiceState {
    let st = this.services.get(service);
    if (!st) this.services.set(service, (st = { groups: new Map(), tags: new Map() }));
    return st;
  }

  private remove(key: string, old: Instance, touched: Set<string>): void {
    const st = this.state(old.service);
    const group = st.groups.get(old.base)!;
    group.keys.delete(key);
    if (group.keys.size === 0) st.groups.delete(old.base);
    touched.add(old.base);
    for (const tag of old.tags) {
      const n = st.tags.get(tag)! - 1;
      if (n > 0) st.tags.set(tag, n);
      else {
        st.tags.delete(tag);
        touched.add(tag);
      }
    }
    if (st.groups.size === 0) this.services.delete(old.service);
    this.instances.delete(key);
    this.names.delete(key);
  }

  private add(key: string, input: InstanceInput, touched: Set<string>): void {
    const inst: Instance = { ...input, tags: [...new Set(input.tags)], base: sanitiseLabel(input.name) };
    const st = this.state(inst.service);
    let group = st.groups.get(inst.base);
    if (!group) st.groups.set(inst.base, (group = { keys: new Set() }));
    group.keys.add(key);
    touched.add(inst.base);
    for (const tag of inst.tags) {
      const n = (st.tags.get(tag) ?? 0) + 1;
      st.tags.set(tag, n);
      if (n === 1) touched.add(tag);
    }
    this.instances.set(key, inst);
  }

  /**
   * Names the endpoints of `service` whose sanitised name is one of `bases`: all of a group
   * when it goes from plain to suffixed or back, else only the one that arrived (`added`),
   * since a suffixed name depends on its own endpoint alone.
   */
  private rename(service: string, bases: Set<string>, added: string | undefined, changed: string[]): void {
    const st = this.services.get(service);
    if (!st) return;
    for (const base of bases) {
      const group = st.groups.get(base);
      if (!group) continue;
      const plain = group.keys.size === 1 && !st.tags.has(base);
      const members = plain !== group.plain ? group.keys : added !== undefined && group.keys.has(added) ? [added] : [];
      group.plain = plain;
      for (const key of members) {
        const inst = this.instances.get(key)!;
        const name = plain ? base : (inst.suffixed ??= suffixedLabel(base, inst.node, inst.id));
        if (this.names.get(key) === name) continue;
        this.names.set(key, name);
        changed.push(key);
      }
    }
  }
}

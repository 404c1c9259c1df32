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
// The cost of an arrival or departure is the endpoints sharing its name (and those named
// as a tag that appears or goes), not the whole service.
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
}

interface ServiceState {
  /** sanitised name -> endpoint keys that have it */
  groups: Map<string, Set<string>>;
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
    for (const s of new Set([old?.service, input?.service])) {
      if (s !== undefined) this.rename(s, touched, changed);
    }
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
    group.delete(key);
    if (group.size === 0) st.groups.delete(old.base);
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
    if (!group) st.groups.set(inst.base, (group = new Set()));
    group.add(key);
    touched.add(inst.base);
    for (const tag of inst.tags) {
      const n = (st.tags.get(tag) ?? 0) + 1;
      st.tags.set(tag, n);
      if (n === 1) touched.add(tag);
    }
    this.instances.set(key, inst);
  }

  /** Names again every endpoint of `service` whose sanitised name is one of `bases`. */
  private rename(service: string, bases: Set<string>, changed: string[]): void {
    const st = this.services.get(service);
    if (!st) return;
    for (const base of bases) {
      const group = st.groups.get(base);
      if (!group) continue;
      const plain = group.size === 1 && !st.tags.has(base);
      for (const key of group) {
        const inst = this.instances.get(key)!;
        const name = plain ? base : suffixedLabel(base, inst.node, inst.id);
        if (this.names.get(key) === name) continue;
        this.names.set(key, name);
        changed.push(key);
      }
    }
  }
}

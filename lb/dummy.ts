// The dummy-interface adapter: VIP addresses (/32) on an interface of our own, so the kernel
// routes local clients' packets for a VIP to the output hook, where our DNAT picks them up.
// Reads the addresses the interface has and adds or removes the difference in one
// `ip -batch`. A kernel without the dummy driver (seen: no modules at all) gets an empty
// bridge instead: it holds local addresses just the same.
import { DEFAULTS } from './defaults.js';
import { run } from '../base/exec.js';

const hostCidr = (a: string): string => (a.includes(':') ? `${a}/128` : `${a}/32`);

/** One link of `ip -j addr show`. */
export interface IpLink {
  ifname?: string;
  addr_info?: { family?: string; local?: string; scope?: string }[];
}

/** Adds to `into` the link's IPv4 and global IPv6 addresses: those a VIP interface holds (not the kernel's own link-local). */
export function vipAddressesOf(link: IpLink, into: Set<string>): void {
  for (const a of link.addr_info ?? [])
    if (typeof a.local === 'string' && (a.family === 'inet' || (a.family === 'inet6' && a.scope !== 'link')))
      into.add(a.local);
}

export interface DummyOptions {
  /** Default weft-vip0. */
  name?: string;
  netns?: string;
}

export class DummyInterface {
  readonly name: string;
  private readonly netns: string | undefined;

  constructor(opts: DummyOptions = {}) {
    this.name = opts.name ?? DEFAULTS.iface;
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(this.name))
      throw new Error(`interface name "${this.name}" is not a valid Linux interface name (1-15 letters, digits, _.-)`);
    this.netns = opts.netns;
  }

  private ip(args: string[], input?: string): Promise<string> {
    return run(['ip', ...(this.netns ? ['-n', this.netns] : []), ...args], { input });
  }

  /** The IPv4 and global IPv6 addresses on the interface (not the kernel's own link-local), or undefined if there is no such interface. */
  async addresses(): Promise<Set<string> | undefined> {
    let out: string;
    try {
      out = await this.ip(['-j', 'addr', 'show', 'dev', this.name]);
    } catch (err) {
      if (/does not exist|Cannot find device/i.test(String((err as { stderr?: string }).stderr ?? err)))
        return undefined;
      throw err;
    }
    const set = new Set<string>();
    for (const l of JSON.parse(out || '[]') as IpLink[]) vipAddressesOf(l, set);
    return set;
  }

  /**
   * Makes the interface exist, be up, and hold exactly `addrs`. Returns how many addresses
   * changed. `read` is what `addresses()` said, if the caller has just asked.
   */
  async sync(addrs: Set<string>, read?: { have: Set<string> | undefined }): Promise<number> {
    let have = read ? read.have : await this.addresses();
    const cmds: string[] = [];
    if (have === undefined) {
      await this.create();
      have = new Set();
    }
    for (const a of have) if (!addrs.has(a)) cmds.push(`addr del ${hostCidr(a)} dev ${this.name}`);
    // nodad: a VIP address is ours by construction, and duplicate address detection would
    // keep it tentative (unusable) for a second or more.
    for (const a of addrs)
      if (!have.has(a)) cmds.push(`addr add ${hostCidr(a)} dev ${this.name}${a.includes(':') ? ' nodad' : ''}`);
    if (cmds.length > 0) await this.ip(['-batch', '-'], cmds.join('\n') + '\n');
    return cmds.length;
  }

  /** Adds the interface and sets it up in one `ip -batch` (it stops at a failing line). */
  async create(): Promise<void> {
    const up = `link set ${this.name} up\n`;
    try {
      await this.ip(['-batch', '-'], `link add ${this.name} type dummy\n${up}`);
    } catch (err) {
      if (!/Unknown device type/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
      await this.ip(['-batch', '-'], `link add ${this.name} type bridge\n${up}`);
    }
  }

  async remove(): Promise<void> {
    if ((await this.addresses()) !== undefined) await this.ip(['link', 'del', this.name]);
  }
}

// The host rules the overlay needs besides its devices, kept level-triggered by the
// driver's passes and removed by `weft agent --cleanup`:
//   - masquerade: containers' traffic leaving the cluster CIDR leaves with the host's
//     address (flannel's `-s cidr ! -d cidr MASQUERADE`), in weft's own nft table
//     `ip weft_overlay`, apart from the load balancer's `ip weft` so either can be
//     replaced without the other. Traffic inside the CIDR keeps container addresses.
//   - DOCKER-USER: dockerd (20.10, iptables) drops forwarded packets to its bridges that
//     are not replies; overlay to overlay traffic (-s cidr -d cidr) is accepted there, as
//     flannel accepts the cluster CIDR in FORWARD. Only when the chain exists (dockerd
//     runs with iptables on); weft does not make it.
//   - net.ipv4.ip_forward=1 (overlay.setForwarding): the host forwards between its bridge
//     and the VXLAN device. Cleanup leaves it on: other software may rely on it.
import { exec, type ExecResult } from '../base/exec.js';

export const MASQ_TABLE = 'weft_overlay';

/** The nft script that replaces weft's overlay table with the masquerade for `cidr` (sans-IO). */
export function masqueradeScript(cidr: string): string {
  // Declaring the table first makes the delete valid when it does not exist yet: one atomic replace.
  return [
    `table ip ${MASQ_TABLE}`,
    `delete table ip ${MASQ_TABLE}`,
    `table ip ${MASQ_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${cidr} ip daddr != ${cidr} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Whether `nft list table` output holds the masquerade for `cidr`. */
export function hasMasquerade(listing: string, cidr: string): boolean {
  return listing.includes(`ip saddr ${cidr} ip daddr != ${cidr} masquerade`);
}

/** The DOCKER-USER rule accepting overlay to overlay traffic, as iptables arguments after -C/-I/-D. */
export function dockerUserRule(cidr: string): string[] {
  return ['DOCKER-USER', '-s', cidr, '-d', cidr, '-m', 'comment', '--comment', 'weft overlay', '-j', 'ACCEPT'];
}

export interface HostRulesStatus {
  masquerade: boolean;
  /** accepted: weft's rule is in; absent: dockerd's chain is not there (no iptables dockerd). */
  dockerUser: 'accepted' | 'absent' | null;
  /** Whether weft sets net.ipv4.ip_forward (overlay.setForwarding). */
  setForwarding: boolean;
}

export class HostRules {
  constructor(private readonly o: { cidr: string; netns?: string; setForwarding: boolean; timeoutMs: number }) {}

  /** A tool that is not installed (no iptables without Docker) reads as a failed command. */
  private run(argv: string[], input?: string): Promise<ExecResult> {
    return exec(argv, { netns: this.o.netns, input, timeoutMs: this.o.timeoutMs }).catch((e: Error) => ({
      stdout: '',
      stderr: e.message,
      code: 127,
    }));
  }

  /** Puts back what is missing; returns what holds now and how many things it changed. Throws on a failed change. */
  async ensure(): Promise<{ status: HostRulesStatus; changed: number }> {
    let changed = 0;
    const list = await this.run(['nft', 'list', 'table', 'ip', MASQ_TABLE]);
    if (list.code !== 0 || !hasMasquerade(list.stdout, this.o.cidr)) {
      const r = await this.run(['nft', '-f', '-'], masqueradeScript(this.o.cidr));
      if (r.code !== 0) throw new Error(`nft: the overlay masquerade: ${r.stderr.trim()}`);
      changed++;
    }
    let dockerUser: HostRulesStatus['dockerUser'] = 'absent';
    if ((await this.run(['iptables', '-w', '-S', 'DOCKER-USER'])).code === 0) {
      const rule = dockerUserRule(this.o.cidr);
      if ((await this.run(['iptables', '-w', '-C', ...rule])).code !== 0) {
        const r = await this.run(['iptables', '-w', '-I', ...rule]);
        if (r.code !== 0) throw new Error(`iptables: the DOCKER-USER rule: ${r.stderr.trim()}`);
        changed++;
      }
      dockerUser = 'accepted';
    }
    if (this.o.setForwarding) {
      const r = await this.run(['sysctl', '-n', 'net.ipv4.ip_forward']);
      if (r.stdout.trim() !== '1') {
        const w = await this.run(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
        if (w.code !== 0) throw new Error(`sysctl net.ipv4.ip_forward=1: ${w.stderr.trim()}`);
        changed++;
      }
    }
    return { status: { masquerade: true, dockerUser, setForwarding: this.o.setForwarding }, changed };
  }

  /** Removes the masquerade table and the DOCKER-USER rule; returns what it removed. */
  static async remove(o: { cidr: string; netns?: string }): Promise<{ removed: string[]; failed: string[] }> {
    const rules = new HostRules({ ...o, setForwarding: false, timeoutMs: 10_000 });
    const run = (argv: string[]) => rules.run(argv);
    const removed: string[] = [];
    const failed: string[] = [];
    if ((await run(['nft', 'list', 'table', 'ip', MASQ_TABLE])).code === 0) {
      const r = await run(['nft', 'delete', 'table', 'ip', MASQ_TABLE]);
      if (r.code === 0) removed.push(`nft table ip ${MASQ_TABLE}`);
      else failed.push(`nft table ip ${MASQ_TABLE}: ${r.stderr.trim()}`);
    }
    const rule = dockerUserRule(o.cidr);
    while ((await run(['iptables', '-w', '-C', ...rule])).code === 0) {
      const r = await run(['iptables', '-w', '-D', ...rule]);
      if (r.code !== 0) {
        failed.push(`iptables DOCKER-USER rule for ${o.cidr}: ${r.stderr.trim()}`);
        break;
      }
      removed.push(`iptables DOCKER-USER rule for ${o.cidr}`);
    }
    return { removed, failed };
  }
}

// Wire-level cross-check of gossip traffic: nftables counters on the output hook (so every
// loopback packet is counted once) for UDP to the gossip port and TCP from or to it, per
// address range. Bytes are IP packet lengths, headers included. Root only; the table is ours
// alone (`inet weftbench`) and is deleted by remove().
import { execFileSync, spawnSync } from 'node:child_process';

export const NFT_TABLE = 'weftbench';

export interface NftRange {
  /** Counter name prefix: letters, digits, underscore. */
  label: string;
  /** e.g. 127.0.10.0/24 */
  cidr: string;
  port: number;
}

export interface NftTotals {
  udpBytes: number;
  udpPackets: number;
  tcpBytes: number;
  tcpPackets: number;
}

export interface NftCounters {
  read(): Record<string, NftTotals>;
  remove(): void;
}

export function nftUsable(): boolean {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return false;
  return spawnSync('nft', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Deletes our table if it exists; never throws. */
export function removeNftTable(): void {
  spawnSync('nft', ['delete', 'table', 'inet', NFT_TABLE], { stdio: 'ignore' });
}

export function setupNft(ranges: NftRange[]): NftCounters {
  removeNftTable();
  const lines = [`table inet ${NFT_TABLE} {`];
  for (const r of ranges) lines.push(`  counter ${r.label}_udp {`, '  }', `  counter ${r.label}_tcp {`, '  }');
  lines.push('  chain out {', '    type filter hook output priority 0; policy accept;');
  for (const r of ranges) {
    lines.push(`    ip daddr ${r.cidr} udp dport ${r.port} counter name "${r.label}_udp"`);
    lines.push(`    ip daddr ${r.cidr} tcp dport ${r.port} counter name "${r.label}_tcp"`);
    lines.push(`    ip saddr ${r.cidr} tcp sport ${r.port} counter name "${r.label}_tcp"`);
  }
  lines.push('  }', '}', '');
  execFileSync('nft', ['-f', '-'], { input: lines.join('\n'), stdio: ['pipe', 'ignore', 'pipe'] });
  return {
    read() {
      const out = execFileSync('nft', ['-j', 'list', 'counters', 'table', 'inet', NFT_TABLE], { encoding: 'utf8' });
      const parsed = JSON.parse(out) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] };
      const byName = new Map<string, { packets: number; bytes: number }>();
      for (const e of parsed.nftables) if (e.counter) byName.set(e.counter.name, e.counter);
      const res: Record<string, NftTotals> = {};
      for (const r of ranges) {
        const u = byName.get(`${r.label}_udp`) ?? { packets: 0, bytes: 0 };
        const t = byName.get(`${r.label}_tcp`) ?? { packets: 0, bytes: 0 };
        res[r.label] = { udpBytes: u.bytes, udpPackets: u.packets, tcpBytes: t.bytes, tcpPackets: t.packets };
      }
      return res;
    },
    remove: removeNftTable,
  };
}

// The nft adapter: reads our table (`inet weft`) as JSON and applies scripts with
// `nft -f -` (one transaction each). It never touches another table, except weft's own
// table of before IPv6 (`ip weft`), which it removes.
import { DEFAULTS } from './defaults.js';
import { run } from '../base/exec.js';
import { emptyActual, FAMILY, LEGACY_FAMILY, parseActual, type NftActual } from './nft-plan.js';

/**
 * nft inside a named network namespace, through nsenter: it enters the network namespace
 * only, where `ip netns exec` also makes a mount namespace and remounts /sys, which nft
 * does not need (about 10 ms more per call, measured here; a pass makes one call).
 */
export function inNetns(netns: string | undefined, argv: string[]): string[] {
  return netns === undefined ? argv : ['nsenter', `--net=/run/netns/${netns}`, ...argv];
}

export interface NftOptions {
  table?: string;
  netns?: string;
  /** Default `nft` on PATH. */
  nft?: string;
}

export class Nft {
  readonly table: string;
  private readonly netns: string | undefined;
  private readonly nft: string;

  constructor(opts: NftOptions = {}) {
    this.table = opts.table ?? DEFAULTS.table;
    this.netns = opts.netns;
    this.nft = opts.nft ?? DEFAULTS.nftCommand;
  }

  async read(family: string = FAMILY): Promise<NftActual> {
    try {
      return parseActual(
        await run(inNetns(this.netns, [this.nft, '-j', 'list', 'table', family, this.table])),
        this.table,
      );
    } catch (err) {
      // No table yet: the same as an empty one. nft says "No such file or directory".
      if (/No such file|does not exist/i.test(String((err as { stderr?: string }).stderr ?? err))) return emptyActual();
      throw err;
    }
  }

  /** Whether weft's table of before IPv6 (`ip weft`) is still there. */
  async legacyExists(): Promise<boolean> {
    return (await this.read(LEGACY_FAMILY)).exists;
  }

  /** Applies a script as one transaction: all of it or none. */
  async apply(script: string): Promise<void> {
    await run(inNetns(this.netns, [this.nft, '-f', '-']), { input: script });
  }

  /** Deletes our table, and the one of before IPv6 (so every rule of ours); no error if they are not there. */
  async remove(): Promise<void> {
    const t = this.table;
    await run(inNetns(this.netns, [this.nft, '-f', '-']), {
      input: [FAMILY, LEGACY_FAMILY].map((f) => `table ${f} ${t} {\n}\ndelete table ${f} ${t}\n`).join(''),
    });
  }

  /** Whether nft runs here (and we may use it): `nft -j list tables` works (reading our table needs its JSON too). */
  static async usable(opts: NftOptions = {}): Promise<boolean> {
    return (await Nft.probe(opts)) !== undefined;
  }

  /**
   * `nft -j list tables`: undefined if nft does not run here (or we may not use it), else
   * the tables it lists as "family name" (`tables` undefined if the list could not be read).
   */
  static async probe(opts: NftOptions = {}): Promise<{ tables?: ReadonlySet<string> } | undefined> {
    let out: string;
    try {
      out = await run(inNetns(opts.netns, [opts.nft ?? DEFAULTS.nftCommand, '-j', 'list', 'tables']), {
        timeoutMs: DEFAULTS.nftProbeTimeoutMs,
      });
    } catch {
      return undefined;
    }
    return { tables: parseTables(out) };
  }
}

/** The tables of `nft -j list tables` as "family name"; undefined for output of another shape. */
export function parseTables(json: string): Set<string> | undefined {
  try {
    const items = (JSON.parse(json) as { nftables?: unknown }).nftables;
    if (!Array.isArray(items)) return undefined;
    const tables = new Set<string>();
    for (const item of items as { table?: { family?: unknown; name?: unknown } }[]) {
      const t = item?.table;
      if (t === undefined) continue;
      if (typeof t.family !== 'string' || typeof t.name !== 'string') return undefined;
      tables.add(`${t.family} ${t.name}`);
    }
    return tables;
  } catch {
    return undefined;
  }
}

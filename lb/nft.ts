// The nft adapter: reads our table as JSON and applies scripts with `nft -f -` (one
// transaction each). It never touches another table.
import { DEFAULTS } from './defaults.js';
import { run } from '../base/exec.js';
import { emptyActual, parseActual, type NftActual } from './nft-plan.js';

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

  async read(): Promise<NftActual> {
    try {
      return parseActual(
        await run([this.nft, '-j', 'list', 'table', 'ip', this.table], { netns: this.netns }),
        this.table,
      );
    } catch (err) {
      // No table yet: the same as an empty one. nft says "No such file or directory".
      if (/No such file|does not exist/i.test(String((err as { stderr?: string }).stderr ?? err))) return emptyActual();
      throw err;
    }
  }

  /** Applies a script as one transaction: all of it or none. */
  async apply(script: string): Promise<void> {
    await run([this.nft, '-f', '-'], { netns: this.netns, input: script });
  }

  /** Deletes our table (and so every rule of ours); no error if it is not there. */
  async remove(): Promise<void> {
    await run([this.nft, '-f', '-'], {
      netns: this.netns,
      input: `table ip ${this.table} {\n}\ndelete table ip ${this.table}\n`,
    });
  }

  /** Whether nft runs here (and we may use it): `nft list tables` works. */
  static async usable(opts: NftOptions = {}): Promise<boolean> {
    try {
      await run([opts.nft ?? DEFAULTS.nftCommand, 'list', 'tables'], {
        netns: opts.netns,
        timeoutMs: DEFAULTS.nftProbeTimeoutMs,
      });
      return true;
    } catch {
      return false;
    }
  }
}

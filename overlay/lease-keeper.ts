// Keeps this node's subnet lease in the store: decides it (lease.ts) from every claim and
// writes it only when it differs from what the store holds, durably, so a restart finds
// the lease it had instead of claiming anew.
import type { Json } from '../crdt-store/json-value.js';
import { parsePrefix } from './cidr.js';
import { decideLease, type LeaseConfig } from './lease.js';
import { leaseKey, leaseValue, type Lease, type LeaseRecord, type Vtep } from './records.js';

/** What the keeper needs of the store. */
export interface LeaseStore {
  update(key: string, mutator: (current: Json | undefined) => Json | undefined, opts?: { durable?: boolean }): unknown;
  delete(key: string, opts?: { durable?: boolean }): unknown;
}

export interface LeaseKeeperOptions {
  node: string;
  store: LeaseStore;
  cfg: LeaseConfig;
  /** Wall clock for claim times. */
  now: () => number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Called when this node claims a (new) subnet. */
  onClaim: () => void;
}

export class LeaseKeeper {
  /** What we last wrote, in case the view shows another owner's record under our key. */
  private ownMemo: Lease | undefined;

  constructor(private readonly o: LeaseKeeperOptions) {}

  /** Decides the lease and writes it when it differs from what the store holds; undefined when no subnet is free. */
  async keep(all: Lease[], vtep: Vtep): Promise<LeaseRecord | undefined> {
    const { node, store, log } = this.o;
    // The view may show a faulty peer's record under our key instead of ours (the store
    // resolves a key held by several owners by name); then what we last wrote stands in.
    const own = all.find((l) => l.node === node) ?? this.ownMemo;
    const d = decideLease(node, own, all, this.o.cfg, vtep, this.o.now());
    const key = leaseKey(node);
    if (d.kind === 'exhausted') {
      if (own) await store.delete(key);
      this.ownMemo = undefined;
      if (d.lostTo)
        log.warn(
          { lostTo: d.lostTo, subnet: own?.subnet },
          'overlay: lost the subnet to an earlier claim and none is free',
        );
      return undefined;
    }
    const value = leaseValue(d.record);
    if (!own || JSON.stringify(leaseValue(own)) !== JSON.stringify(value)) {
      await store.update(key, () => value, { durable: true });
      if (d.kind === 'claim') {
        this.o.onClaim();
        if (d.lostTo)
          log.warn(
            { subnet: d.record.subnet, was: own?.subnet, lostTo: d.lostTo },
            'overlay: subnet lost to an earlier claim; claimed another',
          );
        else log.info({ subnet: d.record.subnet }, 'overlay: claimed a subnet');
      }
    }
    this.ownMemo = { ...d.record, node, prefix: parsePrefix(d.record.subnet)! };
    return d.record;
  }
}

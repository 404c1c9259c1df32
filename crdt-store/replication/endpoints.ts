// A set of store endpoints (address and port), asked once per packet received (is its
// sender a member?) and once per packet sent (does the peer read only self-contained auth
// records?). A set of `addr:port` strings made a string of the endpoint at each of those
// calls; here an address leads to its port, or to its ports when several stores share it
// (agents on one host, tests on loopback).

import type { Peer } from './repair.js';

export class Endpoints {
  private readonly byAddr = new Map<string, number | number[]>();

  constructor(peers: Iterable<Peer> = []) {
    for (const p of peers) this.add(p);
  }

  private add(p: Peer): void {
    const had = this.byAddr.get(p.addr);
    if (had === undefined) this.byAddr.set(p.addr, p.port);
    else if (typeof had === 'number') {
      if (had !== p.port) this.byAddr.set(p.addr, [had, p.port]);
    } else if (!had.includes(p.port)) had.push(p.port);
  }

  has(p: Peer): boolean {
    const had = this.byAddr.get(p.addr);
    return had === p.port || (typeof had === 'object' && had.includes(p.port));
  }

  /** Whether any of the endpoints is at `addr` (a stream comes from an ephemeral port). */
  hasAddr(addr: string): boolean {
    return this.byAddr.has(addr);
  }
}

// Shared by the parts of `npm run bench -- dns`: what the 1,000 service names resolve to.

/** The address of endpoint e of service s (weft's store and dnsmasq's hosts file hold the same). */
export function benchAddr(s: number, e: number): string {
  return `10.${100 + e}.${s >> 8}.${s & 0xff}`;
}

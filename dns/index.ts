// dns: the DNS server for the zone built from the store, with a forwarder for the rest.
//
// In the daemon:
//   const dns = await DnsServer.start({ source: store, nodeName, listen, domain, ttlS, upstreams, registry, log });
//   dns.addresses   where it answers (UDP and TCP on each)
//   await dns.stop()
//
// Layers (each usable alone; the first four never touch a socket or a clock):
//   wire.ts         hand parser of queries, name-compressing writer
//   zone.ts         names and records from the store's live view, updated per record
//   prepare.ts      precomputed answer bytes per name and type, with rotations
//   answer.ts       Responder: query bytes -> response bytes (zone, errors, hand-off to the forwarder)
//   forwarder.ts    upstream selection, retries, coalescing; cache.ts its LRU + TTL cache
//   resolv-conf.ts  upstream lists
//   netset.ts       client addresses and networks, matched without allocation
//   client-acl.ts   who may recurse (loopback, Docker bridges, overlay, CIDRs)
//   rrl.ts          response-rate limiting per client network, with slip
//   random.ts       ids and 0x20 bits from node:crypto
//   server.ts       UDP/TCP listeners, upstream sockets, timer; metrics.ts prom-client export
//   worker-pool.ts  worker processes sharing the UDP sockets (dns.workers), fed the zone's changes;
//   worker.ts       their entry point (worker-protocol.ts: the messages between them)
export { DnsServer, DnsStartError, type DnsServerOptions, type DnsLog, type ListenAddr } from './server.js';
export { Zone, type RecordSource, type VipSource, type SourceEvent, type ZoneOptions } from './zone.js';
export { Responder, type ResponderOptions } from './answer.js';
export { Forwarder, type ForwarderOptions, type Upstream } from './forwarder.js';
export { DnsStats } from './stats.js';
export { parseUpstream, upstreamsFromResolvConf } from './resolv-conf.js';
export { RecursionAcl, checkRecursionAllow } from './client-acl.js';
export { DEFAULTS } from './defaults.js';
export { ResponseRateLimiter } from './rrl.js';
export { sanitiseLabel, suffixedLabel } from './instance-names.js';

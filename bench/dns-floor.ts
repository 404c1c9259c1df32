// Part of `npm run bench -- dns`: Node's floor for a UDP DNS server on this host. It answers
// each query with the query's own bytes, QR set (no records; dnsperf counts a NOERROR), read
// and sent the way weft's server does (dns/udp-handle.ts), under the agent's flags (so its
// answers to a burst leave together, as weft's do). What weft's answer costs comes on top of
// this; what this costs in user time beyond dnsmasq is Node's work per datagram (libuv's
// callback into JS, a Buffer and an address object for each read, the address parsed again
// for each send), which no code of ours can take away.
// Prints one JSON line {"port":N} when bound; exits when stdin closes.
//   node dist/bench/dns-floor.js <addr>
import dgram from 'node:dgram';
import { serveUdp } from '../dns/udp-handle.js';

const [addr = '127.0.0.1'] = process.argv.slice(2);
const sock = dgram.createSocket('udp4');
sock.bind(0, addr, () => {
  const { send } = serveUdp(sock, (msg, address, port) => {
    if (msg.length < 12 || msg[2] & 0x80) return; // not a query: never answer an answer
    msg[2] |= 0x80;
    send(msg, port, address);
  });
  process.stdout.write(JSON.stringify({ port: sock.address().port }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

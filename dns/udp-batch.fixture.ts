// For src/udp-batch.system.test.ts: a UDP echo on serveUdp's path (udp-handle.ts) that holds
// its queries in the kernel until told, so that it reads them as one burst. Prints {"port":N}
// once bound and not reading; a line on stdin starts the reading; exits when stdin closes.
//   node [flags] dist/dns/udp-batch.fixture.js
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { serveUdp, setReading } from './udp-handle.js';

const sock = dgram.createSocket('udp4');
await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
const path = serveUdp(sock, (msg, address, port) => path.send(Buffer.from(msg).reverse(), port, address));
if (!setReading(sock, false)) throw new Error('this node cannot stop reading a socket');
process.stdout.write(JSON.stringify({ port: sock.address().port }) + '\n');
const lines = createInterface({ input: process.stdin });
lines.once('line', () => setReading(sock, true));
lines.once('close', () => process.exit(0));

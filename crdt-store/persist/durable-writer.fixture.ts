// Child process for the kill -9 test: writes durable updates as fast as it can and
// reports each acknowledgement on stdout (synchronously, so a report is never ahead of
// or lost behind what it reports). Interleaves non-durable writes, which may be lost.
import { writeSync } from 'node:fs';
import { openStore } from './open.js';

const [dir, name, startArg] = process.argv.slice(2);
const opened = openStore(dir!, {
  name: name!,
  clock: () => performance.timeOrigin + performance.now(),
  journal: { minLogBytes: 32 * 1024 },
});
writeSync(1, `epoch ${opened.store.ownEpoch}\n`);
for (let i = Number(startArg); ; i++) {
  opened.store.put(`loose/${i % 7}`, i);
  opened.store.put(`durable/${i}`, { i, pad: 'p'.repeat(i % 300) }, { durable: true });
  writeSync(1, `ack ${i}\n`);
}

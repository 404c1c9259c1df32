// For dns/worker-stuck.test.ts: the real DNS worker (worker.ts), whose event loop stops for
// good 1.5 s after it gets its first socket, as a worker caught in a loop that never yields
// would: no more reads, answers or load reports. Atomics.wait blocks without spinning a core.
process.on('message', (m: { t?: string }) => {
  if (m.t === 'socket') setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 1_500).unref();
});
await import('./worker.js');

// For dns/worker-idle.test.ts: the real DNS worker (worker.ts), slow to die. It exits 600 ms
// after SIGTERM and meanwhile goes on reporting its load, as a worker on a busy host may
// still have a report on its way to the agent when the agent stops it.
process.on('SIGTERM', () => setTimeout(() => process.exit(0), 600));
await import('./worker.js');

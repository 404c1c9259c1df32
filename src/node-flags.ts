// The V8 flags the agent runs with, set in three places that must agree (a test checks):
// the `weft` shebang (src/cli.ts), `npm start` (package.json) and `weft dev-cluster`.
//
// --max-semi-space-size=4: V8's young generation grows to 3 x 16 MB by default, which is
// most of an idle agent's heap. The agent's allocations are short-lived and small (packets,
// watch events), so 4 MB semi-spaces cost little in scavenges and keep ~25 MB off the RSS
// of every node (bench: `npm run bench -- store`, rss_mb_1000x30).
//
// --wasm-lazy-validation: V8 validates each function of Automerge's 3.6 MB of wasm when it
// first compiles it (it compiles them lazily already) instead of all of them up front. That
// halves the module's compile, the largest single item of an agent's start (28 -> 14 ms of
// CPU here; `npm run bench -- startup`). Nothing runs unvalidated: a function is validated
// before its first call, and the wasm is the package's own.
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--wasm-lazy-validation'];

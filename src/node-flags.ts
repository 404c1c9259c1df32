// The V8 flags the agent runs with, set in three places that must agree (a test checks):
// the `weft` shebang (src/cli.ts), `npm start` (package.json) and `weft dev-cluster`.
//
// --max-semi-space-size=4: V8's young generation grows to 3 x 16 MB by default, which is
// most of an idle agent's heap. The agent's allocations are short-lived and small (packets,
// watch events), so 4 MB semi-spaces cost little in scavenges and keep ~25 MB off the RSS
// of every node (bench: `npm run bench -- store`, rss_mb_1000x30).
export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

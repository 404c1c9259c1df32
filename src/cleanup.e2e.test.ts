// `weft agent --cleanup` in a network namespace of the test's own, holding what an agent
// leaves behind on purpose (the LB's nft table and VIP interface, the overlay's devices)
// and things that are not weft's, which must stay. Also the overlay's masquerade table and
// DOCKER-USER rule.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { CLI } from '../test/helpers/agent-process.js';
import { skipUnless } from '../test/helpers/system.js';
import { ownLeftover } from '../test/helpers/leftovers.js';
import { dockerUserRule } from '../overlay/host-rules.js';

const NS = 'weft-cleanup-test';
const inNs = (...argv: string[]) =>
  execFileSync('ip', ['netns', 'exec', NS, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const cleanup = () => {
  try {
    return { code: 0, out: inNs(process.execPath, CLI, 'agent', '--cleanup') };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: err.stdout + err.stderr };
  }
};

t.test(
  "weft agent --cleanup removes weft's kernel state and nothing else",
  { skip: skipUnless({ root: true, commands: ['ip', 'nft', 'iptables'] }) },
  async (t) => {
    try {
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    } catch {
      // not left over
    }
    execFileSync('ip', ['netns', 'add', NS]);
    ownLeftover('netns', NS);
    t.teardown(() => execFileSync('ip', ['netns', 'del', NS]));
    inNs('nft', 'add', 'table', 'inet', 'weft');
    // The table of an agent from before IPv6 VIPs: an upgraded host may still hold it.
    inNs('nft', 'add', 'table', 'ip', 'weft');
    inNs('nft', 'add', 'table', 'ip', 'other');
    inNs('ip', 'link', 'add', 'weft-vip0', 'type', 'bridge');
    inNs('ip', 'link', 'add', 'weft.vx', 'type', 'vxlan', 'id', '1', 'dstport', '4789');
    inNs('ip', 'link', 'add', 'weft0', 'type', 'bridge');
    inNs('ip', 'link', 'add', 'other0', 'type', 'bridge');
    // The overlay's host rules (overlay/host-rules.ts): its masquerade table and its DOCKER-USER rule, next to one that is not weft's.
    inNs('nft', 'add', 'table', 'ip', 'weft_overlay');
    inNs('iptables', '-w', '-N', 'DOCKER-USER');
    inNs('iptables', '-w', '-A', 'DOCKER-USER', '-j', 'RETURN');
    inNs('iptables', '-w', '-I', ...dockerUserRule('172.16.0.0/16'));

    const first = cleanup();
    t.equal(first.code, 0, first.out);
    for (const what of ['nft table inet weft', 'nft table ip weft', 'interface weft-vip0', 'weft.vx', 'weft0'])
      t.match(first.out, what, `reports ${what} removed`);
    t.notMatch(inNs('nft', 'list', 'tables'), /table (inet|ip) weft\b/, 'both nft tables are gone');
    t.match(inNs('nft', 'list', 'tables'), /table ip other/, 'another table stays');
    const links = inNs('ip', '-o', 'link', 'show');
    for (const dev of ['weft-vip0', 'weft.vx', 'weft0:']) t.notMatch(links, dev, `${dev} is gone`);
    t.match(links, /other0/, 'another bridge stays');
    t.notMatch(inNs('nft', 'list', 'tables'), /weft_overlay/, 'the masquerade table is gone');
    const dockerUser = inNs('iptables', '-w', '-S', 'DOCKER-USER');
    t.notMatch(dockerUser, /weft overlay/, "weft's DOCKER-USER rule is gone");
    t.match(dockerUser, /-A DOCKER-USER -j RETURN/, "dockerd's own rule stays");

    const again = cleanup();
    t.equal(again.code, 0);
    t.match(again.out, /nothing of weft's to remove/, 'a second run finds nothing');
  },
);

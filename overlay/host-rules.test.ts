// The host rules' nft script and its in-line check (sans-IO); host-rules.system.test.ts
// applies them to a kernel.
import t from 'tap';
import { hasMasquerade, masqueradeScript } from './host-rules.js';

const CIDR = '172.16.0.0/16';
/** What `nft list table` prints for a script (the rule lines as written, indented by tabs). */
const listed = (script: string) => script.replace(/^ {4}/gm, '\t\t');

t.test('notrack chains for the VXLAN port only when asked, and the check tells them apart', async (t) => {
  const plain = masqueradeScript(CIDR);
  const fast = masqueradeScript(CIDR, 4789);
  t.notMatch(plain, /notrack/);
  t.match(fast, /hook prerouting priority raw;[^}]*udp dport 4789 notrack/);
  t.match(fast, /hook output priority raw;[^}]*udp dport 4789 notrack/);
  t.ok(hasMasquerade(listed(plain), CIDR), 'plain is in line without notrack');
  t.ok(hasMasquerade(listed(fast), CIDR, 4789), 'notrack is in line with it');
  t.notOk(hasMasquerade(listed(plain), CIDR, 4789), 'notrack wanted but missing: rewrite');
  t.notOk(hasMasquerade(listed(fast), CIDR), 'notrack turned off but still there: rewrite');
  t.notOk(hasMasquerade(listed(masqueradeScript(CIDR, 8472)), CIDR, 4789), 'another port: rewrite');
  t.notOk(hasMasquerade(listed(fast), '10.0.0.0/8', 4789), 'another CIDR: rewrite');
});

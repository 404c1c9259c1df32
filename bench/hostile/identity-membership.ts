// Attacks on signed membership (issue 13, step 3), against real agents on loopback. A key
// holder with its own valid certificate (mallory) sends node1 and node3 forged membership
// news about node2: a dead and a suspect about incarnations node2 never signed, an alive
// at a higher incarnation from mallory's address (unsigned, and signed with mallory's own
// certificate), and an unsigned leave of node2. Held when node2 never has to refute (its
// incarnation stays what it signed), every agent holds node2 alive at that incarnation,
// and every forgery is refused and counted. Without identity (IDENTITY_OFF=1 in the test)
// the same attack makes node2 look dead or left and refute: the check that it can fail.
import type { Teardown } from '../../test/helpers/agent-process.js';
import { eventually } from '../../test/helpers/eventually.js';
import { makePki } from '../../test/helpers/identity.js';
import { aliveBytes } from '../../membership/core/member-auth.js';
import { MEMBER_AUTH_REJECTS } from '../../membership/core/member-auth.js';
import { encodePacket } from '../../membership/codec.js';
import { generateKey, Keyring } from '../../membership/keyring.js';
import type { Alive, PacketMessage } from '../../membership/messages.js';
import { SignedMembership } from '../../membership/member-signer.js';
import { members, sendDatagrams } from './gossip.js';
import { startIdentityCluster } from './identity-cluster.js';
import { metric } from './store.js';
import type { AttackResult } from './result.js';

const endpoint = (p: string) => {
  const [addr, port] = p.split(':');
  return { addr: addr!, port: Number(port) };
};

/** Membership news refused by identity, summed over `agents`. */
export async function memberRefusals(agents: Parameters<typeof metric>[0]): Promise<number> {
  let sum = 0;
  for (const r of MEMBER_AUTH_REJECTS) sum += await metric(agents, `weft_gossip_rejected_total{reason="${r}"}`);
  return sum;
}

export async function keyHolderForgesMembership(t: Teardown, opts: { identity?: boolean } = {}): Promise<AttackResult> {
  const identity = opts.identity ?? true;
  const net = '127.0.135';
  const key = generateKey();
  const pki = makePki(['node1', 'node2', 'node3', 'mallory']);
  t.teardown(() => pki.cleanup());
  const agents = await startIdentityCluster(t, net, 3, identity ? pki : undefined, () => ['--encrypt', key]);
  const [node1, node2, node3] = agents as [(typeof agents)[0], (typeof agents)[0], (typeof agents)[0]];
  const view = async (a: (typeof agents)[0]) => (await members(a)).find((m) => m.name === 'node2');
  await eventually(
    'every agent holds node2 alive',
    async () => (await Promise.all(agents.map(view))).every((m) => m?.state === 'alive'),
    15_000,
  );
  const inc = (await view(node2))!.incarnation;

  const attacker = `${net}.99`;
  const mallory = new SignedMembership(pki.identity('mallory'));
  const takeover: Alive = {
    t: 'alive',
    incarnation: inc + 5,
    node: { name: 'node2', addr: attacker, port: 7946 },
    meta: new Uint8Array(0),
  };
  const forgeries: [string, PacketMessage][] = [
    ['dead about an incarnation node2 never signed', { t: 'dead', incarnation: inc + 1, node: 'node2', from: 'node1' }],
    [
      'suspect about an incarnation node2 never signed',
      { t: 'suspect', incarnation: inc + 3, node: 'node2', from: 'node3' },
    ],
    ['high-incarnation alive of node2, unsigned', takeover],
    [
      "high-incarnation alive of node2, signed with mallory's certificate",
      {
        ...takeover,
        incarnation: inc + 6,
        sig: mallory.sign('alive', aliveBytes({ ...takeover, incarnation: inc + 6 })),
        cert: mallory.ownCert(true),
      },
    ],
    ['leave of node2, unsigned', { t: 'dead', incarnation: inc, node: 'node2', from: 'node2' }],
  ];
  const wire = { label: '', keyring: new Keyring([key]) };
  const before = await memberRefusals([node1, node3]);
  for (const target of [node1, node3])
    await sendDatagrams(
      attacker,
      endpoint(target.ready.gossip!),
      forgeries.map(([, m]) => encodePacket([m], wire)),
    );

  const sent = forgeries.length * 2;
  let counted = 0;
  if (identity) {
    await eventually(
      'node1 and node3 count every forgery',
      async () => (counted = (await memberRefusals([node1, node3])) - before) >= sent,
      10_000,
    ).catch(() => undefined);
  }
  // Time for a refutation (which only an accepted forgery causes) to be made and spread.
  await new Promise((r) => setTimeout(r, 2000));
  const views = await Promise.all(agents.map(view));
  const wrong = views.filter((m) => m?.state !== 'alive' || m.incarnation !== inc).length;
  return {
    name: "identity: a key holder with its own certificate forges node2's membership (dead and suspect about unsigned incarnations, high-incarnation alives unsigned and signed by itself, an unsigned leave)",
    held: wrong === 0 && (!identity || counted >= sent),
    forged_accepted: wrong,
    detail: `${sent} forgeries: ${counted} refused and counted; node2 signed incarnation ${inc}, views: ${views.map((m, i) => `node${i + 1} sees ${m?.state}@${m?.incarnation}`).join(', ')}`,
    figures: {
      membership_forged_accepted: wrong,
      membership_forgeries_counted: counted,
      membership_forgeries_sent: sent,
    },
  };
}

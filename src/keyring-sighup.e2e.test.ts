// A SIGHUP rotation covers the store as well as gossip (issue 12, item 4): two agents whose
// keys (in their config file, or in their keyring file) go from [A] to [B, A] to [B], with
// a SIGHUP after each edit, keep replicating, and the store then refuses packets sealed with A.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { startAgent, type AgentProcess } from '../test/helpers/agent-process.js';
import { eventually } from '../test/helpers/eventually.js';
import { api, FAST, liveRecords, metric } from '../bench/hostile/store.js';
import { sharedWritePush } from '../bench/hostile/store-forge.js';
import { Envelope } from '../crdt-store/envelope.js';
import { generateKey, Keyring } from '../membership/keyring.js';

const NET = '127.0.124';

for (const how of ['config file', 'keyring file'] as const) {
  t.test(
    `SIGHUP rotation through the ${how}: gossip and store switch together; the retired key opens no store packet`,
    async (t) => {
      const A = generateKey();
      const B = generateKey();
      const dir = t.testdir();
      const conf = (i: number) => `${dir}/n${i}.yaml`;
      const keyFile = (i: number) => `${dir}/n${i}-keys.json`;
      const setKeys = (keys: string[]) => {
        for (const i of [1, 2]) {
          if (how === 'keyring file') writeFileSync(keyFile(i), JSON.stringify(keys));
          else writeFileSync(conf(i), `gossip:\n  keys:\n${keys.map((k) => `    - ${k}`).join('\n')}\n`);
        }
      };
      setKeys([A]);
      const source = (i: number) => (how === 'keyring file' ? ['--keyring-file', keyFile(i)] : ['--config', conf(i)]);
      const start = (i: number, seed?: string) =>
        startAgent(t, [
          ...source(i),
          '--node',
          `n${i}`,
          '--bind',
          `${NET}.${i}`,
          '--bind-port',
          '0',
          ...FAST,
          ...(seed ? ['--join', seed] : []),
        ]);
      const a1 = await start(1);
      const a2 = await start(2, a1.ready.gossip);
      const agents: AgentProcess[] = [a1, a2];
      let n = 0;
      const replicates = async (what: string) => {
        const key = `sighup/${++n}`;
        await api(agents[n % 2]!, 'PUT', `/v1/kv/${key}`, what);
        await eventually(
          `${what}: ${key} at both`,
          async () => (await Promise.all(agents.map((a) => liveRecords(a, `kv/${key}`)))).every((r) => r.length === 1),
          10_000,
          50,
        );
      };
      const hup = async () => {
        const before = agents.map((a) => a.lines.filter((l) => String(l.msg).startsWith('SIGHUP')).length);
        for (const a of agents) a.proc.kill('SIGHUP');
        await eventually(
          'both reloaded',
          () => agents.every((a, i) => a.lines.filter((l) => String(l.msg).startsWith('SIGHUP')).length > before[i]!),
          5_000,
          20,
        );
      };
      await replicates('before');
      setKeys([B, A]);
      await hup();
      await replicates('after [B, A]');
      setKeys([B]);
      await hup();
      await replicates('after [B]');

      const rejectedBefore = await metric(agents, 'weft_store_rejected_total{reason="envelope_decrypt_failed"}');
      const sock = createSocket('udp4');
      t.teardown(() => void sock.close());
      await new Promise<void>((r) => sock.bind(0, `${NET}.99`, r));
      const old = new Envelope({ label: '', keyring: new Keyring([A]) });
      for (const a of agents) {
        const [addr, port] = a.ready.store!.split(':');
        for (let i = 0; i < 5; i++) sock.send(old.seal(sharedWritePush('kv/retired', 'forged')), Number(port), addr);
      }
      await new Promise((r) => setTimeout(r, 1000));
      const rejected =
        (await metric(agents, 'weft_store_rejected_total{reason="envelope_decrypt_failed"}')) - rejectedBefore;
      t.equal(rejected, 10, 'all 10 store packets sealed with the retired key failed to decrypt');
      t.same(
        (await Promise.all(agents.map((a) => liveRecords(a, 'kv/retired')))).flat(),
        [],
        'the forged write is nowhere',
      );
    },
  );
}

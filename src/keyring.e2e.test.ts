// weft keyring across a running cluster (issue 12, item 4): 3 agents with keyring files
// rotate from one key to another while replicating; the retired key then opens no store
// packet, and an agent restarted afterwards rejoins from its keyring file. The rotation is
// bench/hostile/store.ts's, which `npm run bench -- hostile` runs too.
import t from 'tap';
import { rotation } from '../bench/hostile/store.js';

t.test(
  'install, use, remove: replication holds at every step; the retired key is dead; a restart rejoins',
  async (t) => {
    const r = await rotation(t, { smoke: true });
    t.comment(r.steps.join('; '));
    t.ok(r.replicatedAtEveryStep, 'a kv put on one agent was read on the others after every step');
    t.equal(r.keyFile.keys.length, 1, 'the keyring file holds only the new key');
    t.equal(r.keyFile.mode, 0o600, 'the keyring file is 0600');
    t.equal(r.retiredOpened, 0, `none of the ${r.retiredSent} store packets sealed with the retired key opened`);
    t.notOk(r.retiredWriteSeen, 'the write sealed with the retired key is nowhere');
    t.ok(r.restartRejoined, 'the agent restarted after the rotation rejoined and replicates');
  },
);

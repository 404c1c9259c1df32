// Issue 12, item 7: the HTTP API against a web page (CSRF, DNS rebinding), slowloris,
// stalled watchers and unauthenticated writes, each on a real agent on loopback. The
// attacks themselves live in bench/hostile/api.ts (also run by `npm run bench -- hostile`).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  csrfAttack,
  rebindingAttack,
  RSS_BUDGET_MB,
  slowlorisAttack,
  stalledWatchersAttack,
  startApiAgent,
  unauthenticatedWriteAttack,
} from '../bench/hostile/api.js';
import { runCli, startAgent } from '../test/helpers/agent-process.js';
import { skipUnless } from '../test/helpers/system.js';

t.test('a web page cannot write through the API (CSRF) nor read it by DNS rebinding', async (t) => {
  const agent = await startApiAgent();
  t.teardown(() => agent.stop());
  const csrf = await csrfAttack(agent);
  t.ok(csrf.held, csrf.detail ?? '');
  const rebinding = await rebindingAttack(agent);
  t.ok(rebinding.held, rebinding.detail ?? '');
});

t.test('with a token configured, writes without it are refused', async (t) => {
  const r = await unauthenticatedWriteAttack();
  t.ok(r.held, r.detail ?? '');
});

t.test(
  'slowloris does not exhaust the descriptors, and is cut within the header timeout',
  { skip: skipUnless({ commands: ['prlimit'] }) },
  async (t) => {
    const r = await slowlorisAttack({ smoke: true });
    t.equal(r.figures?.api_fd_exhaustion, 0, `a normal request is answered during the attack: ${r.detail}`);
    t.equal(r.figures?.slowloris_open_after_15s, 0, `every slow connection is cut: ${r.detail}`);
    t.ok(r.held, r.detail ?? '');
  },
);

t.test('200 stalled watchers cost a bounded RSS and are cut off', async (t) => {
  const r = await stalledWatchersAttack({ smoke: true });
  t.ok(
    (r.figures?.rss_growth_mb_stalled_watchers ?? Infinity) <= RSS_BUDGET_MB,
    `RSS growth within ${RSS_BUDGET_MB} MB: ${r.detail}`,
  );
  t.ok(r.held, r.detail ?? '');
});

t.test(
  'the CLI sends the token from WEFT_TOKEN, WEFT_TOKEN_FILE or --token-file, and says what to do without it',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-token-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'api.token');
    const made = await runCli(['keygen', '--token', '--out', tokenFile]);
    t.equal(made.code, 0, made.stderr);
    t.equal((statSync(tokenFile).mode & 0o777).toString(8), '600', 'keygen --out writes the file 0600');
    const token = readFileSync(tokenFile, 'utf8').trim();
    t.match(token, /^[A-Za-z0-9_-]{43}$/, 'a token is 32 random bytes, base64url');
    const agent = await startAgent(t, ['--node', 'tok', '--bind-port', '0', '--api-token-file', tokenFile]);
    const api = { WEFT_API: agent.ready.api! };

    const without = await runCli(['kv', 'put', 'k', '1'], api);
    t.equal(without.code, 1, 'a write without the token fails');
    t.match(without.stderr, /needs an API token: set WEFT_TOKEN_FILE/, 'and says what to do');
    t.notMatch(without.stderr, /at \S+:\d+:\d+/, 'no stack trace');
    const wrong = await runCli(['kv', 'put', 'k', '1'], { ...api, WEFT_TOKEN: 'not-the-token' });
    t.match(wrong.stderr, /did not accept the API token/);

    t.equal((await runCli(['kv', 'put', 'k', '1'], { ...api, WEFT_TOKEN: token })).code, 0, 'WEFT_TOKEN');
    t.equal((await runCli(['kv', 'put', 'k', '2'], { ...api, WEFT_TOKEN_FILE: tokenFile })).code, 0, 'WEFT_TOKEN_FILE');
    const got = await runCli(['kv', 'get', 'k', '--token-file', tokenFile], api);
    t.equal(got.stdout.trim(), '2', '--token-file, and reads need the token too');
    t.equal((await runCli(['status'], api)).code, 1, 'a read without the token fails as well');
    const health = await fetch(`${agent.ready.api}/v1/health`);
    t.equal(health.status, 200, '/v1/health needs no token (liveness probes)');
    t.equal(health.headers.get('cache-control'), 'no-store');
    t.equal(health.headers.get('x-content-type-options'), 'nosniff');
    const metrics = await fetch(`${agent.ready.api}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    t.equal(metrics.status, 200, '/metrics takes the token as a bearer token, as Prometheus sends it');
    t.match(
      await metrics.text(),
      /weft_api_refused_total\{reason="no_token"\} [1-9]/,
      'refusals are counted by reason',
    );
  },
);

t.test('an agent beyond loopback without key and token refuses to start, in one line naming weft keygen', async (t) => {
  // 192.0.2.1 (TEST-NET-1) is never bound: the refusal comes before any socket.
  for (const args of [
    ['--bind', '192.0.2.1'],
    ['--api-addr', '192.0.2.1'],
    ['--bind', '192.0.2.1', '--encrypt', 'SlHXv6grNDdAjeSiXMo2w/jVhxVEfqBM1M3PORA4cPE='],
  ]) {
    const r = await runCli([
      'agent',
      ...args,
      '--bind-port',
      '0',
      '--api-port',
      '0',
      '--store-port',
      '0',
      '--dns-listen',
      '',
      '--docker',
      'false',
    ]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.match(r.stderr, /refusing to start: .*192\.0\.2\.1.*weft keygen.*--insecure/);
    t.equal(r.stdout, '', 'nothing started');
  }
  const open = await runCli([
    'agent',
    '--bind',
    '192.0.2.1',
    '--insecure',
    '--bind-port',
    '0',
    '--api-port',
    '0',
    '--store-port',
    '0',
    '--dns-listen',
    '',
    '--docker',
    'false',
  ]);
  t.notMatch(
    open.stderr,
    /refusing to start/,
    '--insecure lets it try (it then fails to bind an address this host does not have)',
  );
  t.match(open.stderr, /warning: running with --insecure/);
});

import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allowedHosts, checkAccess, hostOf, sameSecret, tokenOf, type AccessPolicy } from './api-access.js';
import { resolveApiTokens } from './api-tokens.js';
import { loadConfig } from './config.js';
import { isLoopback, unprotectedExposure } from './secure-default.js';

const hosts = allowedHosts({
  apiAddr: '127.0.0.1',
  nodeName: 'node-17',
  addrs: ['10.0.0.17'],
  extra: ['weft.example.com'],
});
const open: AccessPolicy = { hosts };
const locked: AccessPolicy = { hosts, token: 'write-secret', readToken: 'read-secret' };
const req = (method: string, headers: Record<string, string>, path = '/v1/kv', localAddress = '127.0.0.1') => ({
  method,
  path,
  headers,
  localAddress,
});

t.test("Host: the agent's own names pass, with or without a port; others are refused", async (t) => {
  for (const host of [
    '127.0.0.1:8947',
    '127.0.0.1',
    'localhost:8947',
    'LOCALHOST',
    '[::1]:8947',
    'node-17:8947',
    '10.0.0.17',
    'weft.example.com.',
    'weft.example.com:443',
  ]) {
    t.equal(checkAccess(open, req('GET', { host })), undefined, host);
  }
  for (const host of [
    'evil.example:8947',
    'evil.example',
    '127.0.0.1.evil.example',
    'localhost.evil.example',
    '',
    'a b',
    'user@127.0.0.1',
    '[::2]:1',
  ]) {
    t.equal(checkAccess(open, req('GET', { host }))?.reason, 'host', JSON.stringify(host));
  }
  t.equal(
    checkAccess(open, req('GET', { host: '192.168.5.5:8947' }, '/v1/kv', '192.168.5.5')),
    undefined,
    'the address the client connected to is always its own name',
  );
  t.equal(checkAccess(open, req('GET', { host: '192.168.5.5:8947' }, '/v1/kv', '192.168.5.6'))?.reason, 'host');
  t.equal(checkAccess(open, req('GET', {})), undefined, 'no Host at all (HTTP/1.0): not a browser');
  t.equal(hostOf('[::1]:80'), '::1');
  t.notOk(
    allowedHosts({ apiAddr: '0.0.0.0', nodeName: 'n', addrs: [], extra: [] }).has('0.0.0.0'),
    'an unspecified listen address is no host name',
  );
});

t.test("Origin: only the API's own origin; any other is a cross-site page", async (t) => {
  t.equal(
    checkAccess(
      open,
      req('POST', {
        host: '127.0.0.1:8947',
        origin: 'http://127.0.0.1:8947',
        'content-type': 'application/json',
        'content-length': '2',
      }),
    ),
    undefined,
  );
  for (const origin of [
    'http://evil.example',
    'null',
    'http://127.0.0.1:3000',
    'http://localhost:8947',
    'file://',
    'chrome-extension://abc',
    'junk',
  ]) {
    t.equal(checkAccess(open, req('GET', { host: '127.0.0.1:8947', origin }))?.reason, 'origin', `GET from ${origin}`);
    t.equal(
      checkAccess(
        open,
        req('POST', { host: '127.0.0.1:8947', origin, 'content-type': 'application/json', 'content-length': '2' }),
      )?.reason,
      'origin',
      `POST from ${origin}`,
    );
  }
});

t.test('writes take JSON only', async (t) => {
  const h = { host: 'localhost' };
  t.equal(
    checkAccess(open, req('PUT', { ...h, 'content-type': 'application/json; charset=utf-8', 'content-length': '3' })),
    undefined,
  );
  t.equal(checkAccess(open, req('DELETE', h)), undefined, 'no body, no type: fine');
  for (const type of [
    'text/plain',
    'text/plain;charset=UTF-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonx',
  ]) {
    t.equal(checkAccess(open, req('POST', { ...h, 'content-type': type, 'content-length': '5' }))?.status, 415, type);
  }
  t.equal(
    checkAccess(open, req('POST', { ...h, 'content-length': '5' }))?.reason,
    'content_type',
    'a body without a type',
  );
  t.equal(
    checkAccess(open, req('POST', { ...h, 'transfer-encoding': 'chunked' }))?.reason,
    'content_type',
    'a chunked body without a type',
  );
  t.equal(
    checkAccess(open, req('GET', { ...h, 'content-type': 'text/plain' })),
    undefined,
    'reads are not checked for a type',
  );
});

t.test('tokens: the write token for everything, the read token for GET, /v1/health for anyone', async (t) => {
  const h = { host: 'localhost', 'content-type': 'application/json', 'content-length': '1' };
  t.equal(checkAccess(locked, req('PUT', h))?.status, 401);
  t.equal(checkAccess(locked, req('PUT', { ...h, 'x-weft-token': 'nope' }))?.reason, 'bad_token');
  t.equal(checkAccess(locked, req('PUT', { ...h, 'x-weft-token': 'write-secret' })), undefined);
  t.equal(checkAccess(locked, req('PUT', { ...h, authorization: 'Bearer write-secret' })), undefined);
  t.equal(
    checkAccess(locked, req('PUT', { ...h, authorization: 'Bearer read-secret' }))?.status,
    403,
    'the read token cannot write',
  );
  t.equal(checkAccess(locked, req('GET', { host: 'localhost', authorization: 'Bearer read-secret' })), undefined);
  t.equal(checkAccess(locked, req('GET', { host: 'localhost', 'x-weft-token': 'write-secret' })), undefined);
  t.equal(
    checkAccess(locked, req('GET', { host: 'localhost' }))?.reason,
    'no_token',
    'reads need a token once one is set',
  );
  t.equal(checkAccess(locked, req('GET', { host: 'localhost' }, '/v1/health')), undefined);
  t.equal(
    checkAccess(locked, req('GET', { host: 'evil.example' }, '/v1/health'))?.reason,
    'host',
    'health is still Host-checked',
  );
  t.equal(
    checkAccess({ hosts, token: 'w' }, req('GET', { host: 'localhost', 'x-weft-token': '' }))?.reason,
    'bad_token',
    'an empty token is no token',
  );
  t.equal(tokenOf({ authorization: 'Basic abc' }), undefined);
  t.ok(sameSecret('a', 'a'));
  t.notOk(sameSecret('a', 'ab'), 'different lengths compare (hashed) without throwing');
});

t.test('token files: read, trimmed, group/world-readable reported, both forms at once refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-tokens-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'tok');
  writeFileSync(f, '\n  abc123  \n', { mode: 0o600 });
  const base = (await loadConfig()).config.api;
  t.same(resolveApiTokens({ ...base, tokenFile: f }), { token: 'abc123', readToken: undefined, warnings: [] });
  chmodSync(f, 0o644);
  t.match(resolveApiTokens({ ...base, tokenFile: f }).warnings[0], /readable by everyone; chmod 600/);
  t.throws(
    () => resolveApiTokens({ ...base, tokenFile: join(dir, 'missing') }),
    /api.tokenFile .* cannot be read \(ENOENT\)/,
  );
  writeFileSync(join(dir, 'empty'), '\n');
  t.throws(() => resolveApiTokens({ ...base, tokenFile: join(dir, 'empty') }), /is empty/);
  t.throws(() => resolveApiTokens({ ...base, token: 'x', tokenFile: f }), /both set/);
  t.throws(() => resolveApiTokens({ ...base, readToken: 'r' }), /without api.token/);
  const env = await loadConfig({ env: { WEFT_API_TOKEN_FILE: f, WEFT_API_READ_TOKEN: 'r' } });
  t.equal(env.config.api.tokenFile, f, 'WEFT_API_TOKEN_FILE');
  t.equal(env.config.api.readToken, 'r', 'WEFT_API_READ_TOKEN');
});

t.test('secure by default: what counts as exposed and as protected', async (t) => {
  for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) t.ok(isLoopback(a), a);
  for (const a of ['0.0.0.0', '::', '10.0.0.1', '192.0.2.1', '::ffff:10.0.0.1', '128.0.0.1']) t.notOk(isLoopback(a), a);
  const { config } = await loadConfig();
  t.equal(unprotectedExposure(config), undefined, 'the defaults are loopback');
  const exposed = { ...config, gossip: { ...config.gossip, bindAddr: '0.0.0.0' } };
  t.same(unprotectedExposure(exposed)?.missing, ['no gossip encryption key', 'no API token']);
  t.same(
    unprotectedExposure({
      ...exposed,
      gossip: { ...exposed.gossip, keyFile: '/etc/weft/key' } as typeof exposed.gossip,
    })?.missing,
    ['no API token'],
    'gossip.keyFile counts as keys',
  );
  t.equal(
    unprotectedExposure({
      ...exposed,
      gossip: { ...exposed.gossip, keys: ['k'] },
      api: { ...config.api, tokenFile: '/t' },
    }),
    undefined,
  );
  const redacted = (await import('./config.js')).redacted({
    ...config,
    api: { ...config.api, token: 'w', readToken: 'r' },
  });
  t.equal(redacted.api.token, '<redacted>', '--print-config never shows a token');
  t.equal(redacted.api.readToken, '<redacted>');
});

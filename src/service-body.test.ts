// The API's register body (src/components/service-routes.ts endpointFromBody): fields it
// does not know are an error naming the field, not silently dropped; checks are validated.
import t from 'tap';
import { endpointFromBody } from './components/service-routes.js';
import { ApiError } from './api.js';

const refused = (body: unknown, refuseScript?: string): ApiError => {
  try {
    endpointFromBody(body, '127.0.0.1', undefined, refuseScript);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
};

t.test('an unknown field is a 400 naming it', async (t) => {
  for (const [field, value] of [
    ['check', [{ http: ':8080' }]],
    ['tag', ['a']],
    ['port', { http: '80' }],
    ['__proto__x', 1],
  ] as const) {
    const e = refused({ service: 'web', [field]: value });
    t.equal(e.status, 400, field);
    t.match(e.message, new RegExp(`unknown field "${field}"`));
  }
});

t.test('checks are parsed, start critical, and bad ones are refused with the reason', async (t) => {
  const rec = endpointFromBody(
    { service: 'web', checks: [{ http: ':8080/healthz', interval: '1s', rise: 1, fall: 1 }, { ttl: '30s' }] },
    '127.0.0.1',
  );
  t.match(rec.checks, [
    { name: 'http', kind: 'http', target: ':8080/healthz', intervalMs: 1000, rise: 1, fall: 1, status: 'critical' },
    { name: 'ttl', kind: 'ttl', ttlMs: 30_000, status: 'critical' },
  ]);
  t.match(
    refused({ service: 'web', checks: [{ http: ':8080', intervall: '1s' }] }).message,
    /check 1: unknown check field "intervall"/,
  );
  t.match(refused({ service: 'web', checks: [{ http: ':8080', tcp: ':80' }] }).message, /exactly one of/);
  t.match(refused({ service: 'web', checks: {} }).message, /checks must be a list/);
  t.match(
    refused({ service: 'web', checks: Array.from({ length: 9 }, () => ({ tcp: ':80' })) }).message,
    /at most 8 checks/,
  );
  t.match(
    refused({ service: 'web', checks: [{ script: 'true' }] }, 'script checks are off').message,
    /script checks are off/,
  );
  t.match(
    endpointFromBody({ service: 'web', checks: [{ script: 'true' }] }, '127.0.0.1').checks,
    [{ kind: 'script', target: 'true' }],
    'allowed when the agent allows it',
  );
  t.same(
    endpointFromBody({ service: 'web', checks: [{ tcp: ':80' }, { tcp: ':81' }] }, '127.0.0.1').checks?.map(
      (c) => c.name,
    ),
    ['tcp', 'tcp-2'],
  );
});

// The checks in an endpoint record: older records still parse, readers refuse malformed
// checks, and the serving state combines Docker's healthcheck with weft's checks.
import t from 'tap';
import { isServing, parseEndpointRecord } from './schema.js';
import { carryCheckStatus, type CheckRecord } from './checks.js';

const old = { service: 'web', addrs: ['10.0.0.1'], ports: {}, health: 'none', vips: [], source: 'api' };
const check: CheckRecord = {
  name: 'http',
  kind: 'http',
  target: ':8080/',
  intervalMs: 5000,
  timeoutMs: 2000,
  rise: 2,
  fall: 3,
  status: 'passing',
  output: 'HTTP 200',
};

t.test("a record without checks (an older node's) parses as before and is served", async (t) => {
  const r = parseEndpointRecord(old);
  t.ok(r);
  t.notOk('checks' in r!);
  t.equal(isServing(r!), true);
});

t.test('a record with checks keeps them; malformed checks make the record unreadable', async (t) => {
  t.same(parseEndpointRecord({ ...old, checks: [check] })?.checks, [check]);
  const bad: unknown[] = [
    'x',
    [{ ...check, status: 'fine' }],
    [{ ...check, kind: 'grpc' }],
    [{ ...check, rise: 0 }],
    [{ ...check, fall: 1e9 }],
    [{ ...check, intervalMs: -5 }],
    [{ ...check, output: 'x'.repeat(10_000) }],
    [{ ...check, name: 'Bad Name' }],
    [check, check],
    Array.from({ length: 9 }, (_, i) => ({ ...check, name: `c${i}` })),
  ];
  for (const checks of bad)
    t.equal(parseEndpointRecord({ ...old, checks }), undefined, JSON.stringify(checks).slice(0, 80));
});

t.test("serving: Docker's healthcheck and every check must allow it; warning is served", async (t) => {
  const serving = (health: string, ...statuses: string[]) =>
    isServing(
      parseEndpointRecord({
        ...old,
        health,
        checks: statuses.map((status, i) => ({ ...check, name: `c${i}`, status })),
      })!,
    );
  t.equal(serving('none', 'passing'), true);
  t.equal(serving('none', 'warning'), true);
  t.equal(serving('healthy', 'passing', 'warning'), true);
  t.equal(serving('none', 'passing', 'critical'), false, 'one critical check is enough');
  t.equal(serving('unhealthy', 'passing'), false, 'Docker says unhealthy');
  t.equal(serving('starting', 'passing'), false);
});

t.test('a rewritten record keeps the status of unchanged checks; a changed check starts critical', async (t) => {
  const def = {
    name: check.name,
    kind: check.kind,
    target: check.target,
    intervalMs: check.intervalMs,
    timeoutMs: check.timeoutMs,
    rise: check.rise,
    fall: check.fall,
  };
  t.same(carryCheckStatus([def], [check]), [check]);
  t.match(carryCheckStatus([{ ...def, target: ':9090/' }], [check]), [{ status: 'critical', output: 'not run yet' }]);
  t.match(carryCheckStatus([def], undefined), [{ status: 'critical' }]);
});

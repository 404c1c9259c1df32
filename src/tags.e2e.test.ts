// Tags and readable names across two real agents (issue 14): endpoints registered through
// the API at either node, asked for with dig at both; ?tag= in the API, --tag in the CLI;
// node tags in weft members.
import t from 'tap';
import { runCli, startAgent, type AgentProcess, FAST_GOSSIP_FLAGS as FAST } from '../test/helpers/agent-process.js';
import { dig } from '../test/helpers/dns.js';
import { eventually } from '../test/helpers/eventually.js';
import { skipUnless } from '../test/helpers/system.js';
import { suffixedLabel } from '../dns/instance-names.js';
import { makePki } from '../test/helpers/identity.js';
import { tlsArgs } from '../bench/hostile/identity-cluster.js';

const D = 'weft.internal';

async function digAt(a: AgentProcess, name: string, type = 'A') {
  const [addr, port] = a.ready.dns!.split(':') as [string, string];
  return dig(addr, Number(port), [name, type]);
}

/** The sorted data of the answers (addresses, or SRV "port target"). */
async function answers(a: AgentProcess, name: string, type = 'A'): Promise<string[]> {
  const r = await digAt(a, name, type).catch(() => undefined);
  if (!r) return [];
  return r.answer
    .filter((x) => x[3] === type)
    .map((x) => (type === 'SRV' ? `${x[6]} ${x[7]}` : x[4]!))
    .sort();
}

const post = (a: AgentProcess, body: unknown) =>
  fetch(`${a.ready.api}/v1/services`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
const getJson = async (a: AgentProcess, path: string) => {
  const r = await fetch(`${a.ready.api}${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

t.test(
  'tags, instance names and node tags across two agents',
  { skip: skipUnless({ commands: ['dig'] }) },
  async (t) => {
    const a = await startAgent(t, [
      '--node',
      'ta',
      '--bind',
      '127.0.8.1',
      '--tag',
      'role=web',
      '--tag',
      'zone=a',
      ...FAST,
    ]);
    const b = await startAgent(t, [
      '--node',
      'tb',
      '--bind',
      '127.0.8.2',
      '--join',
      a.ready.gossip!,
      '--tag',
      'role=db',
      ...FAST,
    ]);
    const http = (port: string) => ({ http: port });
    t.equal(
      (
        await post(a, {
          service: 'web',
          id: 'web-1',
          addrs: ['127.0.0.11'],
          ports: http('8080'),
          tags: ['primary', 'v2'],
          meta: { version: '2' },
        })
      ).status,
      201,
    );
    t.equal(
      (await post(b, { service: 'web', id: 'Web_2', addrs: ['127.0.0.12'], ports: http('8081'), tags: ['v2'] })).status,
      201,
    );
    // An instance named like a tag: the tag keeps the name, the instance is suffixed.
    t.equal((await post(b, { service: 'web', id: 'primary', addrs: ['127.0.0.13'], ports: http('8082') })).status, 201);

    for (const [who, x] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const ms = await eventually(
        `every endpoint has reached ${who}, and primary.web.svc answers only the tagged one`,
        async () =>
          (await answers(x, `web.svc.${D}`)).length === 3 &&
          (await answers(x, `primary.web.svc.${D}`)).join() === '127.0.0.11',
        20_000,
        100,
      );
      t.pass(`${who}: primary.web.svc = 127.0.0.11 after ${ms} ms`);
      t.same(await answers(x, `v2.web.svc.${D}`), ['127.0.0.11', '127.0.0.12'], `${who}: v2.web.svc`);
      t.same(
        await answers(x, `web.svc.${D}`),
        ['127.0.0.11', '127.0.0.12', '127.0.0.13'],
        `${who}: the service name answers all`,
      );
      t.same(await answers(x, `web-1.web.svc.${D}`), ['127.0.0.11'], `${who}: an instance by its id`);
      t.same(await answers(x, `web-2.web.svc.${D}`), ['127.0.0.12'], `${who}: Web_2 sanitised to web-2`);
      t.same(
        await answers(x, `${suffixedLabel('primary', 'tb', 'primary')}.web.svc.${D}`),
        ['127.0.0.13'],
        `${who}: the instance called primary, suffixed`,
      );
      const srv = await answers(x, `_http._tcp.web.svc.${D}`, 'SRV');
      t.same(
        srv,
        [
          `8080 web-1.web.svc.${D}.`,
          `8081 web-2.web.svc.${D}.`,
          `8082 ${suffixedLabel('primary', 'tb', 'primary')}.web.svc.${D}.`,
        ],
        `${who}: SRV targets are the readable names`,
      );
      for (const target of srv.map((s) => s.split(' ')[1]!))
        t.equal((await answers(x, target)).length, 1, `${who}: ${target} resolves`);
      t.same(
        await answers(x, `_http._tcp.primary.web.svc.${D}`, 'SRV'),
        [`8080 web-1.web.svc.${D}.`],
        `${who}: SRV under a tag`,
      );
    }

    const all = await getJson(b, '/v1/services?tag=primary');
    const eps = (all.body.services as { service: string; endpoints: { id: string; dns: string; meta: object }[] }[])[0]!
      .endpoints;
    t.same(
      eps.map((e) => [e.id, e.dns, e.meta]),
      [['web-1', 'web-1', { version: '2' }]],
      '?tag=primary at B: only web-1, with its DNS name and meta',
    );
    const one = await getJson(a, '/v1/services/web?tag=v2');
    t.same(
      (one.body.endpoints as { id: string }[]).map((e) => e.id).sort(),
      ['Web_2', 'web-1'],
      'one service, ?tag=v2',
    );
    t.equal((await getJson(a, '/v1/services?tag=Bad')).status, 400, 'a tag that is no DNS label: 400');
    t.equal((await getJson(a, '/v1/services/web?tag=nope')).status, 404);
    t.equal((await post(a, { service: 'web', id: 'x', tags: ['a.b'] })).status, 400, 'registering a hostile tag: 400');
    t.equal(
      (await post(a, { service: 'web', id: 'x', meta: { k: 'x'.repeat(600) } })).status,
      400,
      'an oversized meta value: 400',
    );
    t.equal(
      (await post(a, { service: 'web', id: 'x', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) })).status,
      400,
      '33 tags: 400',
    );

    const ls = await runCli(['service', 'ls', '--tag', 'v2', '--api', b.ready.api!]);
    t.equal(ls.code, 0, ls.stderr);
    t.match(ls.stdout, /TAGS/);
    t.ok(
      ls.stdout.includes('web-1') && ls.stdout.includes('Web_2') && !/\bprimary\s+127/.test(ls.stdout),
      'weft service ls --tag v2: the two v2 endpoints',
    );
    const reg = await runCli([
      'service',
      'register',
      'api',
      '--id',
      'api-1',
      '--addr',
      '127.0.0.21',
      '--tag',
      'canary',
      '--meta',
      'version=3',
      '--port',
      '9000',
      '--api',
      a.ready.api!,
    ]);
    t.equal(reg.code, 0, reg.stderr);
    await eventually(
      'canary.api.svc resolves at B',
      async () => (await answers(b, `canary.api.svc.${D}`)).join() === '127.0.0.21',
      20_000,
      100,
    );
    t.same(
      await answers(b, `_api._tcp.api.svc.${D}`, 'SRV'),
      [`9000 api-1.api.svc.${D}.`],
      'a port given without a name: SRV _api._tcp.api.svc',
    );
    const badTag = await runCli(['service', 'register', 'api', '--tag', 'Bad Tag', '--api', a.ready.api!]);
    t.not(badTag.code, 0);
    t.match(badTag.stderr, /tag "Bad Tag" must be a DNS label/);

    await eventually(
      "B sees A's node tags",
      async () => {
        const m = (await getJson(b, '/v1/members')).body.members as { name: string; tags: Record<string, string> }[];
        return m.find((x) => x.name === 'ta')?.tags.zone === 'a';
      },
      20_000,
    );
    const web = await runCli(['members', '--tag', 'role=web', '--json', '--api', b.ready.api!]);
    t.same(
      (JSON.parse(web.stdout) as { name: string; tags: object }[]).map((m) => [m.name, m.tags]),
      [['ta', { role: 'web', zone: 'a' }]],
      'weft members --tag role=web',
    );
    const both = await runCli(['members', '--tag', 'role=db', '--api', a.ready.api!]);
    t.match(both.stdout, /TAGS/);
    t.match(both.stdout, /tb .*role=db/);
    t.notMatch(both.stdout, /\bta\b/);
    const partial = await runCli(['members', '--tag', 'role=we', '--json', '--api', a.ready.api!]);
    t.same(JSON.parse(partial.stdout), [], 'exact match: role=we matches nobody');
    const bad = await runCli(['members', '--tag', 'role', '--api', a.ready.api!]);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /write KEY=VALUE/);
  },
);

t.test(
  'node tags travel in signed alives when identity is on',
  { skip: skipUnless({ commands: ['openssl'] }) },
  async (t) => {
    const pki = makePki(['ia', 'ib']);
    t.teardown(() => pki.cleanup());
    const a = await startAgent(t, [
      '--node',
      'ia',
      '--bind',
      '127.0.8.11',
      '--tag',
      'role=web',
      ...FAST,
      ...tlsArgs(pki, 'ia'),
    ]);
    const b = await startAgent(t, [
      '--node',
      'ib',
      '--bind',
      '127.0.8.12',
      '--join',
      a.ready.gossip!,
      '--tag',
      'role=db',
      ...FAST,
      ...tlsArgs(pki, 'ib'),
    ]);
    for (const [x, other, role] of [
      [a, 'ib', 'db'],
      [b, 'ia', 'web'],
    ] as const) {
      await eventually(
        `${other}'s tags, signed, reach the other node`,
        async () => {
          const m = (await getJson(x, `/v1/members?tag=role=${role}`)).body.members as {
            name: string;
            state: string;
          }[];
          return m.length === 1 && m[0]!.name === other && m[0]!.state === 'alive';
        },
        20_000,
      );
    }
    t.pass('each node sees the other alive with its tags, through signed membership');
  },
);

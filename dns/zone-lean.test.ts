// The zone's lean names (one string per name, the single contributor inline, record
// objects shared between the names an address answers under) answer exactly as the zone
// did before them (zone-reference.fixture.ts): random sequences of node, endpoint and VIP
// records, arriving, changing and leaving, then every name either zone holds (and a few
// it does not) asked for every type, in mixed case, byte for byte the same answer.
import t from 'tap';
import { Responder } from './answer.js';
import { ReferenceZone } from './zone-reference.fixture.js';
import { Zone } from './zone.js';
import { keyHash, nameHash, nameOfKey, TYPE } from './wire.js';
import { query } from '../test/helpers/dns.js';
import type { SourceEvent } from '../records/schema.js';
import { Xoshiro128 } from '../base/rng.js';

function rng(seed: number): () => number {
  const g = new Xoshiro128(seed);
  return () => g.next();
}

const NODES = ['n1', 'n2', 'Web.Node', 'n_bad', 'c1'];
const SERVICES = ['web', 'db', 'api', 'Bad!'];
const IDS = ['a', 'b', 'c1', 'x-1'];
const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', 'fd00::1', 'fd00::2', 'nope'];
const TAGS = ['primary', 'web', 'a', 'c1', 'blue'];
const NAMES = [undefined, 'c1', 'Web App', 'a', 'primary'];
const HEALTH = ['none', 'healthy', 'starting', 'unhealthy'];
const QTYPES = [TYPE.A, TYPE.AAAA, TYPE.SRV, TYPE.PTR, TYPE.NS, TYPE.SOA, 255, 16, 5];

type Input =
  | { kind: 'node'; e: SourceEvent }
  | { kind: 'endpoint'; e: SourceEvent }
  | { kind: 'vip'; vip: string; addr?: string; addr6?: string };

function randomInput(r: () => number): Input {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const some = <T>(xs: readonly T[], max: number): T[] =>
    Array.from({ length: Math.floor(r() * (max + 1)) }, () => pick(xs));
  const kind = r();
  if (kind < 0.3) {
    const node = pick(NODES);
    const key = `node/${node}`;
    if (r() < 0.2) return { kind: 'node', e: { key, after: undefined } };
    const value = r() < 0.1 ? { addr: 7 } : { addr: pick(ADDRS) };
    return { kind: 'node', e: { key, after: { value, owner: r() < 0.9 ? node : pick(NODES) } } };
  }
  if (kind < 0.9) {
    const node = pick(NODES);
    const service = pick(SERVICES);
    const key = `svc/${service}/${node}/${pick(IDS)}`;
    if (r() < 0.2) return { kind: 'endpoint', e: { key, after: undefined } };
    const ports: Record<string, { port: number; proto: string }> = {};
    if (r() < 0.7) ports.http = { port: 80, proto: 'tcp' };
    if (r() < 0.3) ports.dns = { port: 53, proto: 'udp' };
    const value: Record<string, unknown> = {
      service: r() < 0.95 ? service : pick(SERVICES),
      addrs: some(ADDRS.slice(0, 5), 3),
      ports,
      health: pick(HEALTH),
      vips: [],
      source: 'api',
    };
    const name = pick(NAMES);
    if (name !== undefined) value.name = name;
    if (r() < 0.5) value.tags = some(TAGS, 2);
    return { kind: 'endpoint', e: { key, after: { value, owner: r() < 0.95 ? node : pick(NODES) } } };
  }
  const vip = pick(['web', 'db', 'Bad!']);
  return {
    kind: 'vip',
    vip,
    addr: r() < 0.7 ? pick(['11.0.0.1', '11.0.0.2']) : undefined,
    addr6: r() < 0.3 ? 'fd11::1' : undefined,
  };
}

function apply(z: Zone | ReferenceZone, i: Input): void {
  if (i.kind === 'node') z.onNode(i.e);
  else if (i.kind === 'endpoint') z.onEndpoint(i.e);
  else z.setVip(i.vip, i.addr, i.addr6);
}

/** A name as a query might spell it: some letters upper case. */
const mixedCase = (name: string, r: () => number) => [...name].map((c) => (r() < 0.3 ? c.toUpperCase() : c)).join('');

/** The first query the two responders answer differently, if any. */
function firstDifference(a: Responder<unknown>, b: Responder<unknown>, names: string[], r: () => number) {
  for (const name of names) {
    for (const qtype of QTYPES) {
      const q = query(mixedCase(name, r), qtype);
      const got = a.handle(q, false);
      const want = b.handle(q, false);
      if (!got === !want && (!got || got.equals(want!))) continue;
      return { name, qtype, lean: got?.toString('hex'), ref: want?.toString('hex') };
    }
  }
  return undefined;
}

t.test('a key hashes as its bytes do', async (t) => {
  for (const key of ['\x03web\x03svc\x04weft\x08internal\x00', '\x00', '\x01\xff\x00'])
    t.equal(keyHash(key), nameHash(Buffer.from(key, 'latin1')));
});

t.test('the lean zone answers as the zone before it, over random record sets', async (t) => {
  const RUNS = Number(process.env.PROPS_RUNS ?? 60);
  let queries = 0;
  for (let run = 0; run < RUNS; run++) {
    const seed = 0x5eed + run;
    const r = rng(seed);
    const lean = new Zone({ nodeName: 'n1' });
    const ref = new ReferenceZone({ nodeName: 'n1' });
    const changed: [string[], string[]] = [[], []];
    lean.onChange = (names) => changed[0].push(...names);
    ref.onChange = (names) => changed[1].push(...names);
    const a = new Responder(lean);
    const b = new Responder(ref as unknown as Zone);
    const steps = 10 + Math.floor(r() * 60);
    for (let step = 0; step < steps; step++) {
      const input = randomInput(r);
      apply(lean, input);
      apply(ref, input);
      if (step % 5 !== 4 && step !== steps - 1) continue;
      if (JSON.stringify(lean.stats) !== JSON.stringify(ref.stats) || changed[0].join() !== changed[1].join()) {
        t.fail(`seed ${seed} step ${step}: stats or changed names differ`, {
          lean: [lean.stats, changed[0]],
          ref: [ref.stats, changed[1]],
        });
        return;
      }
      const keys = [...(ref as unknown as { names: Map<string, unknown> }).names.keys()];
      const names = [...keys.map(nameOfKey), 'nope.weft.internal.', 'x.web.svc.weft.internal.', 'example.org.'];
      const differ = firstDifference(a, b, names, r);
      queries += names.length * QTYPES.length;
      if (differ) {
        t.fail(`seed ${seed} step ${step}: ${differ.name} type ${differ.qtype} answered differently`, differ);
        return;
      }
    }
  }
  t.pass(`${RUNS} record sets, ${queries} queries answered alike`);
});

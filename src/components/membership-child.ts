// SWIM membership as a supervised child: ready once the gossip sockets are bound (joining
// goes on in the background, so a node whose seeds are down still starts and heals later).
// Stop is a graceful leave: the cluster sees `left`, not a failure.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from '../agent.js';
import { encodeMeta } from '../node-meta.js';
import { Membership, type MemberInfo } from '../../membership/membership.js';
import { makeConfig, type SwimConfig } from '../../membership/core/index.js';
import { MAX_META_BYTES } from '../../membership/messages.js';
import { REJECT_REASONS } from '../../membership/codec.js';
import { ApiError } from '../api.js';
import { followCounter, Gauge } from '../metrics.js';
import type { Config } from '../config.js';

export function swimConfig(g: Config['gossip']): SwimConfig {
  return makeConfig(g.preset, {
    probeIntervalMs: g.probeInterval,
    probeTimeoutMs: g.probeTimeout,
    gossipIntervalMs: g.gossipInterval,
    suspicionMult: g.suspicionMult,
    retransmitMult: g.retransmitMult,
    pushPullIntervalMs: g.pushPullInterval,
    reapAfterMs: g.reapAfter,
    udpPayload: g.udpPayload,
    indirectChecks: g.indirectChecks,
    gossipNodes: g.gossipNodes,
    suspicionMaxTimeoutMult: g.suspicionMaxTimeoutMult,
    awarenessMaxMultiplier: g.awarenessMaxMultiplier,
    gossipToTheDeadTimeMs: g.gossipToTheDeadTime,
    healIntervalMs: g.healInterval,
    tcpTimeoutMs: g.tcpTimeout,
  });
}

/** Holds the running Membership so routes and other components can reach it across restarts. */
export interface MembershipHandle {
  current?: Membership;
}

export function membershipChild(ctx: AgentContext, handle: MembershipHandle): ChildSpec {
  const { config, log } = ctx;
  registerMetrics(ctx, handle);
  registerRoutes(ctx, handle);
  return {
    id: 'membership',
    restart: 'permanent',
    shutdownMs: 10_000,
    async start(child) {
      const g = config.gossip;
      let swim: SwimConfig;
      try {
        swim = swimConfig(g);
      } catch (e) {
        throw new Error(`gossip timings: ${(e as Error).message.replace(/^membership config /, '')}`, { cause: e });
      }
      const m = await Membership.start({
        name: config.node.name,
        bindAddr: g.bindAddr,
        bindPort: g.bindPort,
        advertiseAddr: g.advertiseAddr || undefined,
        config: swim,
        label: g.label,
        // The agent's keyring, shared with the store: one rotation covers both.
        keyring: ctx.keyring,
        acceptUnstamped: g.acceptUnstamped,
        meta: encodeMeta(ctx.meta),
        onError: (err, context) => log.debug({ err: err.message, context }, `membership: ${context}: ${err.message}`),
      });
      handle.current = m;
      for (const type of ['join', 'alive', 'suspect', 'dead', 'leave'] as const) {
        m.on(type, (member: MemberInfo) => log.info({ member: member.name, addr: `${member.addr}:${member.port}`, incarnation: member.incarnation }, `member ${member.name} ${type === 'leave' ? 'left' : type === 'join' ? 'joined' : `is ${type}`}`));
      }
      const local = m.local;
      ctx.listening.set('gossip', `${local.addr}:${local.port}`);
      if (g.join.length) {
        void m.join(g.join).then((n) => {
          if (child.signal.aborted) return;
          if (n > 0) log.info({ seeds: g.join, answered: n }, `joined the cluster through ${n} of ${g.join.length} seed(s)`);
          else log.warn({ seeds: g.join }, `no seed answered yet (${g.join.join(', ')}); retrying in the background`);
        });
      }
      return {
        async stop() {
          await m.leave(Math.min(5_000, swim.probeIntervalMs * 3)).catch(() => undefined);
          await m.close();
          if (handle.current === m) handle.current = undefined;
        },
        kill() {
          void m.close();
        },
      };
    },
  };
}

function requireMembership(handle: MembershipHandle): Membership {
  if (!handle.current) throw new ApiError(503, 'membership is not running; see /v1/status');
  return handle.current;
}

export function memberJson(m: MemberInfo) {
  return {
    name: m.name,
    addr: m.addr,
    port: m.port,
    state: m.state,
    incarnation: m.incarnation,
    meta: metaText(m.meta),
    lastChange: new Date(m.lastChange).toISOString(),
  };
}

/** Metadata is bytes; show it as text when it is printable UTF-8, else as base64. */
function metaText(meta: Uint8Array): string {
  const text = Buffer.from(meta).toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? text : 'base64:' + Buffer.from(meta).toString('base64');
}

function registerRoutes(ctx: AgentContext, handle: MembershipHandle): void {
  ctx.api.route('GET', '/v1/members', () => ({ body: { members: requireMembership(handle).members().map(memberJson) } }));
  ctx.api.route('GET', '/v1/members/self', () => ({ body: memberJson(requireMembership(handle).localMember()) }));
  // The operator's text goes in the "user" field of the node's metadata; the other fields
  // are weft's own (version, store port), which peers rely on.
  ctx.api.route('PUT', '/v1/members/self/meta', (req) => {
    const text = (req.body as { meta?: unknown } | undefined)?.meta;
    if (typeof text !== 'string') throw new ApiError(400, 'body must be {"meta": "<text>"}');
    const m = requireMembership(handle);
    const next = new Map(ctx.meta).set('user', text);
    const bytes = encodeMeta(next);
    if (bytes.length > MAX_META_BYTES) throw new ApiError(400, `metadata would be ${bytes.length} bytes; at most ${MAX_META_BYTES} are allowed, so shorten the text`);
    ctx.meta.set('user', text);
    ctx.publishMeta();
    return { body: memberJson(m.localMember()) };
  });
  ctx.api.route('POST', '/v1/members/join', async (req) => {
    const seeds = (req.body as { seeds?: unknown } | undefined)?.seeds;
    if (!Array.isArray(seeds) || !seeds.every((s) => typeof s === 'string')) throw new ApiError(400, 'body must be {"seeds": ["host:port", ...]}');
    return { body: { answered: await requireMembership(handle).join(seeds) } };
  });
}

function registerMetrics(ctx: AgentContext, handle: MembershipHandle): void {
  const registers = [ctx.registry];
  new Gauge({
    name: 'weft_members',
    help: 'Members known to this node, by state',
    labelNames: ['state'],
    registers,
    collect() {
      const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of handle.current?.members() ?? []) counts[m.state]!++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  const stats = () => handle.current?.stats();
  const swimCounter = (name: string, help: string, pick: (s: ReturnType<Membership['stats']>) => number) =>
    followCounter(ctx.registry, name, help, [], () => {
      const s = stats();
      return s ? [[{}, pick(s)]] : [];
    }, () => handle.current);
  swimCounter('weft_gossip_probes_total', 'Probes sent', (s) => s.swim.probes);
  swimCounter('weft_gossip_probe_failures_total', 'Probes with no ack, direct or indirect', (s) => s.swim.probeFailures);
  swimCounter('weft_gossip_suspicions_total', 'Suspicions raised by this node', (s) => s.swim.suspicionsRaised);
  swimCounter('weft_gossip_refutations_total', 'Times this node refuted a suspicion of itself', (s) => s.swim.refutations);
  swimCounter('weft_gossip_push_pulls_total', 'Full-state exchanges', (s) => s.swim.pushPulls);
  swimCounter('weft_gossip_bytes_in_total', 'Gossip bytes received, UDP and TCP', (s) => s.transport.packetBytesIn + s.transport.streamBytesIn);
  swimCounter('weft_gossip_bytes_out_total', 'Gossip bytes sent, UDP and TCP', (s) => s.transport.packetBytesOut + s.transport.streamBytesOut);
  swimCounter('weft_gossip_packets_in_total', 'Gossip packets received', (s) => s.transport.packetsIn);
  swimCounter('weft_gossip_packets_out_total', 'Gossip packets sent', (s) => s.transport.packetsOut);
  swimCounter('weft_gossip_stream_failures_total', 'Outbound gossip streams that failed', (s) => s.streamFailures);
  swimCounter('weft_gossip_encode_failures_total', 'Outgoing gossip messages dropped because they could not be encoded', (s) => s.encodeFailures);
  swimCounter('weft_gossip_implausible_incarnations_total', 'Gossip news ignored: incarnation too far ahead of the clock (forged)', (s) => s.swim.implausibleIncarnations);
  followCounter(ctx.registry, 'weft_gossip_rejected_total', 'Gossip input rejected by the decoder, by reason', ['reason'], () => {
    const s = stats();
    return s ? REJECT_REASONS.map((reason) => [{ reason }, s.rejects[reason]]) : [];
  }, () => handle.current);
  followCounter(ctx.registry, 'weft_gossip_streams_rejected_total', 'Inbound gossip streams closed or refused, by reason', ['reason'], () => {
    const s = stats();
    if (!s) return [];
    return [
      [{ reason: 'refused' }, s.transport.streamsRefused],
      [{ reason: 'unauthenticated' }, s.transport.streamsUnauthenticated],
      [{ reason: 'over_budget' }, s.transport.streamsOverBudget],
    ];
  }, () => handle.current);
  new Gauge({ name: 'weft_gossip_health_score', help: 'Lifeguard local health score (0 is healthy)', registers, collect() { this.set(handle.current?.stats().swim.healthScore ?? 0); } });
}

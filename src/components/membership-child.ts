// SWIM membership as a supervised child: ready once the gossip sockets are bound (joining
// goes on in the background, so a node whose seeds are down still starts and heals later).
// Stop is a graceful leave: the cluster sees `left`, not a failure.
import type { ChildSpec } from '../../supervisors/index.js';
import type { AgentContext } from './context.js';
import { encodeMeta, hasNodeTags, parseNodeTagFilter, tagsOf } from '../node-meta.js';
import {
  Membership,
  makeConfig,
  MAX_META_BYTES,
  REJECT_REASONS,
  MEMBER_AUTH_REJECTS,
  SignedMembership,
  type MemberInfo,
  type SwimConfig,
} from '../../membership/index.js';
import { ApiError } from '../api.js';
import { registerEventRoutes } from './event-routes.js';
import { followCounter } from '../../base/follow-counter.js';
import { Gauge } from '../metrics.js';
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
  const events = registerEventRoutes(ctx);
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
      const changeAuth = ctx.changeAuth;
      const signed = changeAuth
        ? new SignedMembership(changeAuth.current, { acceptUnsigned: () => config.tls.acceptUnsigned })
        : undefined;
      const m = await startMembership(ctx, swim, signed);
      handle.current = m;
      const unfollowIdentity = followIdentity(ctx, m, signed);
      const stopRefusalLog = signed ? logRefusals(m, log) : () => {};
      logMemberEvents(m, log);
      const detachEvents = events.attach(m, config.node.name, changeAuth ? () => changeAuth.current : undefined);
      const local = m.local;
      ctx.listening.set('gossip', `${local.addr}:${local.port}`);
      if (g.join.length) joinSeeds(m, g.join, child.signal, log);
      return {
        async stop() {
          detachEvents();
          unfollowIdentity();
          stopRefusalLog();
          // Not on a restart: the others keep us (and our records) alive until we are back.
          if (ctx.leaveOnStop) await m.leave(Math.min(5_000, swim.probeIntervalMs * 3)).catch(() => undefined);
          await m.close();
          if (handle.current === m) handle.current = undefined;
        },
        kill() {
          detachEvents();
          unfollowIdentity();
          stopRefusalLog();
          void m.close();
        },
      };
    },
  };
}

/** Binds the gossip sockets with the agent's config, keyring and identity. */
function startMembership(
  ctx: AgentContext,
  swim: SwimConfig,
  signed: SignedMembership | undefined,
): Promise<Membership> {
  const { config, log } = ctx;
  const g = config.gossip;
  return Membership.start({
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
    // Identity on (tls.*): alives and leaves are signed with the node's certificate, as store changes are.
    auth: signed,
    onError: (err, context) => log.debug({ err: err.message, context }, `membership: ${context}: ${err.message}`),
  });
}

/** Revocations and renewals reach membership as they reach the store (identity-routes.ts followRevocations); returns the unfollow. */
function followIdentity(ctx: AgentContext, m: Membership, signed: SignedMembership | undefined): () => void {
  const changeAuth = ctx.changeAuth;
  const identityListener = {
    revoked: (node: string) => {
      m.standingChanged();
      ctx.log.warn({ node }, `membership: node ${node} revoked: failed, its gossip refused`);
    },
    renewed: (id: Parameters<SignedMembership['setIdentity']>[0]) => {
      signed?.setIdentity(id);
      m.identityRenewed();
    },
  };
  changeAuth?.listeners.add(identityListener);
  return () => changeAuth?.listeners.delete(identityListener);
}

function logMemberEvents(m: Membership, log: AgentContext['log']): void {
  for (const type of ['join', 'alive', 'suspect', 'dead', 'leave'] as const) {
    m.on(type, (member: MemberInfo) =>
      log.info(
        { member: member.name, addr: `${member.addr}:${member.port}`, incarnation: member.incarnation },
        `member ${member.name} ${type === 'leave' ? 'left' : type === 'join' ? 'joined' : `is ${type}`}`,
      ),
    );
  }
}

/** Joins in the background: a node whose seeds are down still starts, and says so. */
function joinSeeds(m: Membership, seeds: string[], signal: AbortSignal, log: AgentContext['log']): void {
  void m.join(seeds).then((n) => {
    if (signal.aborted) return;
    if (n > 0) log.info({ seeds, answered: n }, `joined the cluster through ${n} of ${seeds.length} seed(s)`);
    else log.warn({ seeds }, `no seed answered yet (${seeds.join(', ')}); retrying in the background`);
  });
}

/** Membership news refused by identity: one log line per period at most, with the counts by reason since the last. */
function logRefusals(m: Membership, log: AgentContext['log'], periodMs = 30_000): () => void {
  let last = { ...m.stats().swim.authRejects };
  const timer = setInterval(() => {
    const now = m.stats().swim.authRejects;
    const grown = Object.fromEntries(
      MEMBER_AUTH_REJECTS.map((r) => [r, now[r] - last[r]]).filter(([, n]) => (n as number) > 0),
    );
    last = { ...now };
    if (Object.keys(grown).length > 0)
      log.warn(
        { refused: grown },
        `membership: refused gossip not signed by its node (${Object.entries(grown)
          .map(([r, n]) => `${r} ${n}`)
          .join(', ')}); see weft_gossip_rejected_total`,
      );
  }, periodMs);
  timer.unref();
  return () => clearInterval(timer);
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
    tags: tagsOf(m.meta),
    lastChange: new Date(m.lastChange).toISOString(),
  };
}

/** Metadata is bytes; show it as text when it is printable UTF-8, else as base64. */
function metaText(meta: Uint8Array): string {
  const text = Buffer.from(meta).toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? text : 'base64:' + Buffer.from(meta).toString('base64');
}

function registerRoutes(ctx: AgentContext, handle: MembershipHandle): void {
  // ?tag=role=web (repeatable): only members whose node tags hold every pair, exactly.
  ctx.api.route('GET', '/v1/members', (req) => {
    const want = parseNodeTagFilter(req.query.getAll('tag'));
    if (typeof want === 'string') throw new ApiError(400, want);
    return {
      body: {
        members: requireMembership(handle)
          .members()
          .filter((m) => hasNodeTags(m.meta, want))
          .map(memberJson),
      },
    };
  });
  ctx.api.route('GET', '/v1/members/self', () => ({ body: memberJson(requireMembership(handle).localMember()) }));
  // The operator's text goes in the "user" field of the node's metadata; the other fields
  // are weft's own (version, store port), which peers rely on.
  ctx.api.route('PUT', '/v1/members/self/meta', (req) => {
    const text = (req.body as { meta?: unknown } | undefined)?.meta;
    if (typeof text !== 'string') throw new ApiError(400, 'body must be {"meta": "<text>"}');
    const m = requireMembership(handle);
    const next = new Map(ctx.meta).set('user', text);
    const bytes = encodeMeta(next);
    if (bytes.length > MAX_META_BYTES)
      throw new ApiError(
        400,
        `metadata would be ${bytes.length} bytes; at most ${MAX_META_BYTES} are allowed, so shorten the text`,
      );
    ctx.meta.set('user', text);
    ctx.publishMeta();
    return { body: memberJson(m.localMember()) };
  });
  ctx.api.route('POST', '/v1/members/join', async (req) => {
    const seeds = (req.body as { seeds?: unknown } | undefined)?.seeds;
    if (!Array.isArray(seeds) || !seeds.every((s) => typeof s === 'string'))
      throw new ApiError(400, 'body must be {"seeds": ["host:port", ...]}');
    return { body: { answered: await requireMembership(handle).join(seeds) } };
  });
}

function registerMetrics(ctx: AgentContext, handle: MembershipHandle): void {
  registerMemberGauges(ctx, handle);
  registerSwimCounters(ctx, handle);
  registerGossipRejects(ctx, handle);
}

function registerMemberGauges(ctx: AgentContext, handle: MembershipHandle): void {
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
  new Gauge({
    name: 'weft_gossip_health_score',
    help: 'Lifeguard local health score (0 is healthy)',
    registers,
    collect() {
      this.set(handle.current?.stats().swim.healthScore ?? 0);
    },
  });
}

function registerSwimCounters(ctx: AgentContext, handle: MembershipHandle): void {
  const stats = () => handle.current?.stats();
  const swimCounter = (name: string, help: string, pick: (s: ReturnType<Membership['stats']>) => number) =>
    followCounter(
      ctx.registry,
      name,
      help,
      [],
      () => {
        const s = stats();
        return s ? [[{}, pick(s)]] : [];
      },
      () => handle.current,
    );
  swimCounter('weft_gossip_probes_total', 'Probes sent', (s) => s.swim.probes);
  swimCounter(
    'weft_gossip_probe_failures_total',
    'Probes with no ack, direct or indirect',
    (s) => s.swim.probeFailures,
  );
  swimCounter('weft_gossip_suspicions_total', 'Suspicions raised by this node', (s) => s.swim.suspicionsRaised);
  swimCounter(
    'weft_gossip_refutations_total',
    'Times this node refuted a suspicion of itself',
    (s) => s.swim.refutations,
  );
  swimCounter('weft_gossip_push_pulls_total', 'Full-state exchanges', (s) => s.swim.pushPulls);
  swimCounter(
    'weft_gossip_bytes_in_total',
    'Gossip bytes received, UDP and TCP',
    (s) => s.transport.packetBytesIn + s.transport.streamBytesIn,
  );
  swimCounter(
    'weft_gossip_bytes_out_total',
    'Gossip bytes sent, UDP and TCP',
    (s) => s.transport.packetBytesOut + s.transport.streamBytesOut,
  );
  swimCounter('weft_gossip_packets_in_total', 'Gossip packets received', (s) => s.transport.packetsIn);
  swimCounter('weft_gossip_packets_out_total', 'Gossip packets sent', (s) => s.transport.packetsOut);
  swimCounter('weft_gossip_stream_failures_total', 'Outbound gossip streams that failed', (s) => s.streamFailures);
  swimCounter(
    'weft_gossip_encode_failures_total',
    'Outgoing gossip messages dropped because they could not be encoded',
    (s) => s.encodeFailures,
  );
  swimCounter(
    'weft_gossip_implausible_incarnations_total',
    'Gossip news ignored: incarnation too far ahead of the clock (forged)',
    (s) => s.swim.implausibleIncarnations,
  );
}

function registerGossipRejects(ctx: AgentContext, handle: MembershipHandle): void {
  const stats = () => handle.current?.stats();
  // Decoder rejects, then membership news refused by identity (issue 13: unsigned, bad_signature, ...).
  followCounter(
    ctx.registry,
    'weft_gossip_rejected_total',
    'Gossip input rejected by the decoder or by identity, by reason',
    ['reason'],
    () => {
      const s = stats();
      if (!s) return [];
      const rows: [{ reason: string }, number][] = REJECT_REASONS.map((reason) => [{ reason }, s.rejects[reason]]);
      for (const reason of MEMBER_AUTH_REJECTS) rows.push([{ reason }, s.swim.authRejects[reason]]);
      return rows;
    },
    () => handle.current,
  );
  followCounter(
    ctx.registry,
    'weft_gossip_streams_rejected_total',
    'Inbound gossip streams closed or refused, by reason',
    ['reason'],
    () => {
      const s = stats();
      if (!s) return [];
      return [
        [{ reason: 'refused' }, s.transport.streamsRefused],
        [{ reason: 'unauthenticated' }, s.transport.streamsUnauthenticated],
        [{ reason: 'over_budget' }, s.transport.streamsOverBudget],
      ];
    },
    () => handle.current,
  );
}

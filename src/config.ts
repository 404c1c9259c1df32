// Effective config = defaults < file (YAML) < WEFT_* environment < flags.
// Every problem is collected and reported at once, each naming the key, the value,
// where it came from and what is allowed, so an operator fixes them in one go.
import { isIP } from 'node:net';
import { CONFIG_KEYS, type KeySpec, describeType, envOf, flagOf } from './config-schema.js';
import { parseNet } from '../dns/netset.js';
import { parseHandlers, type EventHandler } from './events/handlers.js';
import { nodeTagsProblem } from './node-meta.js';
import { parseDuration } from '../base/duration.js';
import { parseYamlText, readBoundedFile } from './yaml-text.js';

export interface Config {
  /** tags: the node's tags (issue 14), in its gossip metadata (src/node-meta.ts). */
  node: { name: string; dataDir: string; tags: Record<string, string> };
  gossip: {
    bindAddr: string;
    bindPort: number;
    advertiseAddr: string;
    join: string[];
    /** SIGTERM leaves the cluster too (SIGINT and weft leave always do). */
    leaveOnTerminate: boolean;
    preset: 'lan' | 'wan' | 'local';
    label: string;
    keys: string[];
    /** Keyring file (src/keyring-file.ts); empty: none. */
    keyFile: string;
    /** Timing overrides; undefined keeps the preset's value. Durations in ms. */
    probeInterval?: number;
    probeTimeout?: number;
    gossipInterval?: number;
    suspicionMult?: number;
    retransmitMult?: number;
    pushPullInterval?: number;
    reapAfter?: number;
    udpPayload?: number;
    indirectChecks?: number;
    gossipNodes?: number;
    suspicionMaxTimeoutMult?: number;
    awarenessMaxMultiplier?: number;
    gossipToTheDeadTime?: number;
    healInterval?: number;
    tcpTimeout?: number;
    /** Accept encrypted gossip without a sender time (a rolling upgrade from agents before replay protection). */
    acceptUnstamped: boolean;
  };
  store: { bindPort: number };
  /** Per-node identity files (issue 13); all empty: identity off. */
  tls: { caFile: string; certFile: string; keyFile: string; acceptUnsigned: boolean };
  dns: {
    listen: string[];
    domain: string;
    ttl: number;
    forward: boolean;
    upstreams: string[];
    recursionAllow: string[];
    rateLimit: number;
    rateLimitSlip: number;
    rateLimitExempt: string[];
    workers: number;
  };
  docker: { enabled: boolean; socket: string };
  lb: {
    datapath: 'auto' | 'nft' | 'userspace' | 'off';
    vipCidr: string;
    vipCidr6: string;
    vipAllow: string[];
    proxyCidr: string;
    affinity: 'none' | 'source';
    policy: 'round-robin' | 'least-connections';
    proxyWorkers: number;
  };
  overlay: {
    enabled: boolean;
    cidr: string;
    subnetPrefix: number;
    vni: number;
    port: number;
    underlay: string;
    bridge: string;
    docker: boolean;
    setForwarding: boolean;
  };
  api: {
    addr: string;
    port: number;
    token: string;
    tokenFile: string;
    readToken: string;
    readTokenFile: string;
    allowedHosts: string[];
    maxConnections: number;
    maxConnectionsPerClient: number;
    maxWatches: number;
  };
  security: { insecure: boolean };
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'; format: 'auto' | 'json' | 'pretty' };
  supervision: { maxRestarts: number; periodMs: number };
  /** serf-style handlers of user and member events (src/events/handlers.ts). */
  events: { handlers: EventHandler[]; handlerTimeout: number };
  /** Health checks (checks/). */
  checks: { allowScripts: boolean; allowContainerScripts: boolean };
  /** Service definitions as files (src/service-files.ts): the bodies are checked when they are applied. */
  services: { dir: string; list: unknown[] };
}

export type Source = 'default' | 'file' | 'env' | 'flag';

export interface LoadedConfig {
  config: Config;
  /** Where each key's effective value came from, for --print-config. */
  sources: Record<string, Source>;
  file?: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} config problems:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export interface ConfigInputs {
  /** Flag values as strings, keyed by flag name without dashes (from parseArgs). */
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** Path of a YAML file; falls back to WEFT_CONFIG. */
  file?: string;
}

export async function loadConfig(inputs: ConfigInputs = {}): Promise<LoadedConfig> {
  const env = inputs.env ?? {};
  const flags = inputs.flags ?? {};
  const file = inputs.file ?? (env.WEFT_CONFIG || undefined);
  const problems: string[] = [];
  const fileValues = file ? await readConfigFile(file, problems) : new Map<string, unknown>();

  const config = {} as Record<string, Record<string, unknown>>;
  const sources: Record<string, Source> = {};
  for (const spec of CONFIG_KEYS) {
    let raw: unknown = spec.default;
    let source: Source = 'default';
    let origin = 'default';
    if (fileValues.has(spec.path)) {
      raw = fileValues.get(spec.path);
      source = 'file';
      origin = `in ${file}`;
    }
    const envName = envOf(spec);
    if (env[envName] !== undefined) {
      raw = env[envName];
      source = 'env';
      origin = `from ${envName}`;
    }
    const flag = flagOf(spec);
    if (flags[flag] !== undefined) {
      raw = flags[flag];
      source = 'flag';
      origin = `from --${flag}`;
    }
    // An unset override stays undefined: the preset decides.
    // Defaults are written in the schema in their parsed form (durations in ms).
    const parsed =
      raw === undefined ? { value: undefined } : source === 'default' ? { value: raw } : parseValue(spec, raw);
    if ('error' in parsed) {
      problems.push(`${spec.path} = ${show(spec, raw)} (${origin}): must be ${parsed.error}`);
      continue;
    }
    const [section, key] = spec.path.split('.') as [string, string];
    (config[section] ??= {})[key] = parsed.value;
    sources[spec.path] = source;
  }
  const tls = config.tls as Config['tls'] | undefined;
  if (tls && (tls.caFile || tls.certFile || tls.keyFile) && !(tls.caFile && tls.certFile && tls.keyFile)) {
    problems.push('tls.caFile, tls.certFile and tls.keyFile go together: give all three (weft tls --help), or none');
  }
  if (problems.length) throw new ConfigError(problems);
  return { config: config as unknown as Config, sources, file };
}

async function readConfigFile(file: string, problems: string[]): Promise<Map<string, unknown>> {
  const values = new Map<string, unknown>();
  // Bounded and depth-checked as the service files are (src/yaml-text.ts).
  const read = readBoundedFile(file);
  if ('error' in read) {
    problems.push(`config file ${file}: ${read.error}`);
    return values;
  }
  const parsed = await parseYamlText(read.text);
  if ('error' in parsed) {
    problems.push(`config file ${file}${parsed.line ? ` line ${parsed.line}` : ''}: ${parsed.error}`);
    return values;
  }
  const root = parsed.value;
  if (root === null || root === undefined) return values;
  if (!isPlainObject(root)) {
    problems.push(
      `config file ${file}: must be a mapping of sections (${[...new Set(CONFIG_KEYS.map((k) => k.path.split('.')[0]))].join(', ')})`,
    );
    return values;
  }
  const known = new Set(CONFIG_KEYS.map((k) => k.path));
  for (const [section, body] of Object.entries(root)) {
    if (!isPlainObject(body)) {
      problems.push(`config file ${file}: ${section} must be a mapping of keys`);
      continue;
    }
    for (const [key, value] of Object.entries(body)) {
      const path = `${section}.${key}`;
      if (!known.has(path)) {
        const near = CONFIG_KEYS.find((k) => k.path.toLowerCase() === path.toLowerCase());
        problems.push(`config file ${file}: unknown key ${path}` + (near ? ` (did you mean ${near.path}?)` : ''));
        continue;
      }
      values.set(path, value);
    }
  }
  return values;
}

type Parsed = { value: unknown } | { error: string };

export function parseValue(spec: KeySpec, raw: unknown): Parsed {
  const t = spec.type;
  const bad = { error: describeType(t) };
  switch (t.kind) {
    case 'string': {
      if (typeof raw !== 'string') return bad;
      if (t.pattern && !t.pattern.test(raw)) return bad;
      return { value: raw };
    }
    case 'int': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < t.min || n > t.max) return bad;
      return { value: n };
    }
    case 'bool': {
      if (typeof raw === 'boolean') return { value: raw };
      if (raw === 'true' || raw === '1') return { value: true };
      if (raw === 'false' || raw === '0') return { value: false };
      return bad;
    }
    case 'enum':
      return typeof raw === 'string' && t.values.includes(raw) ? { value: raw } : bad;
    case 'duration': {
      const ms = parseDuration(raw);
      return ms === undefined ? bad : { value: ms };
    }
    case 'ip':
      return typeof raw === 'string' && isIP(raw) !== 0 ? { value: raw } : bad;
    case 'handlers': {
      const r = parseHandlers(raw);
      return 'error' in r ? r : { value: r.value };
    }
    case 'list': {
      const items = Array.isArray(raw)
        ? raw
        : typeof raw === 'string'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined;
      if (!items || !items.every((i) => typeof i === 'string')) return bad;
      const check = {
        hostport: isHostPort,
        key: isKey,
        listen: isListenAddr,
        upstream: isUpstream,
        cidr: isCidr,
        recursion: (s: string) => s === 'docker' || s === 'overlay' || isCidr(s),
        string: () => true,
      }[t.item];
      return items.every(check) ? { value: items } : bad;
    }
    case 'tags':
      return parseNodeTags(raw) ?? bad;
    case 'services':
      return parseServiceList(raw) ?? bad;
  }
}

/** node.tags from a file mapping or from "k=v,k=v" (environment, joined flags); undefined when it is neither or out of bounds. */
function parseNodeTags(raw: unknown): { value: Record<string, string> } | undefined {
  // No prototype: a key "__proto__" is then a key (and refused), not a way to set one.
  const tags: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (isPlainObject(raw)) {
    // YAML reads `rack: 12` as a number: a tag value is text.
    for (const [k, v] of Object.entries(raw)) tags[k] = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
  } else if (typeof raw === 'string') {
    for (const pair of raw.split(',').filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0 || Object.hasOwn(tags, pair.slice(0, eq))) return undefined;
      tags[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  } else return undefined;
  if (nodeTagsProblem(tags)) return undefined;
  return { value: Object.fromEntries(Object.entries(tags)) as Record<string, string> };
}

/** services.list: a list of mappings from the file, or JSON from a flag or the environment. Each is checked when applied (src/service-files.ts). */
function parseServiceList(raw: unknown): { value: unknown[] } | undefined {
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(v) || v.length > 2000 || !v.every(isPlainObject)) return undefined;
  return { value: v };
}

// Durations are parsed in base/ so that the checks' labels and API bodies read them the same way.
export { parseDuration };

export function isHostPort(s: string): boolean {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  if (!m) return false;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return false;
  const host = m[1] ?? m[2]!;
  return m[1] ? isIP(host) === 6 : isIP(host) === 4 || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host);
}

/** ip:port or [v6]:port, port 0 allowed (pick a free one). */
export function parseListenAddr(s: string): { addr: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const addr = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535 || isIP(addr) !== (m[1] ? 6 : 4)) return undefined;
  return { addr, port };
}

const isListenAddr = (s: string) => parseListenAddr(s) !== undefined;
const isCidr = (s: string) => parseNet(s) !== undefined;
const isUpstream = (s: string) => isIP(s) !== 0 || (parseListenAddr(s)?.port ?? 0) > 0;

function isKey(s: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(s) && Buffer.from(s, 'base64').length === 32;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(spec: KeySpec, raw: unknown): string {
  if (spec.secret) return '<redacted>';
  return JSON.stringify(raw) ?? String(raw);
}

/** The effective config as shown by --print-config, with secrets redacted. */
export function redacted(cfg: Config): Config {
  const copy = structuredClone(cfg);
  copy.gossip.keys = copy.gossip.keys.map(() => '<redacted>');
  if (copy.api.token) copy.api.token = '<redacted>';
  if (copy.api.readToken) copy.api.readToken = '<redacted>';
  return copy;
}

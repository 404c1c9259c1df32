// The one table of every config key: its type, default, env variable, flag and doc.
// Loading, validation, --help and the README's config reference are all derived from it,
// so a key cannot be documented in one place and spelled differently in another.
import { hostname } from 'node:os';
import { DEFAULTS as STORE } from '../crdt-store/defaults.js';
import { DEFAULTS as DNS } from '../dns/defaults.js';
import { DEFAULTS as LB } from '../lb/defaults.js';
import { DEFAULTS as MEMBERSHIP } from '../membership/defaults.js';
import { DEFAULTS as OVERLAY } from '../overlay/defaults.js';
import { DEFAULTS as CHECKS } from '../checks/defaults.js';

export type KeyType =
  | { kind: 'string'; pattern?: RegExp; patternDoc?: string }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'duration' } // "500ms", "1s", "2m", or a number of milliseconds
  | { kind: 'ip' }
  | { kind: 'handlers' } // events.handlers: a list of {on, exec} (src/events/handlers.ts)
  | { kind: 'list'; item: 'hostport' | 'string' | 'key' | 'listen' | 'upstream' | 'cidr' | 'recursion' }
  | { kind: 'services' } // services.list: service definitions, as the API's register body (src/service-files.ts)
  | { kind: 'tags' }; // key=value pairs: a mapping in the file, "k=v,k=v" in the environment, a repeatable flag

export interface KeySpec {
  /** Dotted path in the YAML file, e.g. `api.port`. */
  path: string;
  type: KeyType;
  default: unknown;
  doc: string;
  /** Can a SIGHUP apply a new value without a restart? */
  reloadable?: boolean;
  /** Flag name without dashes; derived from the path when absent. */
  flag?: string;
  /** Hide from examples (secrets). */
  secret?: boolean;
}

const port = (min = 0): KeyType => ({ kind: 'int', min, max: 65535 });
const nodeName: KeyType = {
  kind: 'string',
  pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
  patternDoc: '1-63 characters: letters, digits, ".", "_" or "-", starting with a letter or digit',
};

export const CONFIG_KEYS: readonly KeySpec[] = [
  {
    path: 'node.name',
    type: nodeName,
    default: defaultNodeName(),
    doc: 'Unique name of this node in the cluster; defaults to the host name.',
    flag: 'node',
  },
  {
    path: 'node.tags',
    type: { kind: 'tags' },
    default: {},
    doc: 'Tags of this node, key=value, carried in its gossip metadata: shown by weft members and /v1/members, which filter on them (--tag role=web, exact match). In the file a mapping (tags: {role: web}); the flag is repeatable.',
    flag: 'tag',
  },
  {
    path: 'node.dataDir',
    type: { kind: 'string' },
    default: '',
    doc: 'Directory for persisted state; empty keeps everything in memory.',
    flag: 'data-dir',
  },

  {
    path: 'gossip.bindAddr',
    type: { kind: 'ip' },
    default: MEMBERSHIP.bindAddr,
    doc: 'Address the gossip UDP and TCP sockets bind to.',
    flag: 'bind',
  },
  {
    path: 'gossip.bindPort',
    type: port(),
    default: MEMBERSHIP.bindPort,
    doc: 'Gossip port, UDP and TCP (0 picks a free one).',
    flag: 'bind-port',
  },
  {
    path: 'gossip.advertiseAddr',
    type: { kind: 'string' },
    default: '',
    doc: 'Address other nodes reach this one at; empty uses the bind address.',
    flag: 'advertise',
  },
  {
    path: 'gossip.leaveOnTerminate',
    type: { kind: 'bool' },
    default: false,
    doc: 'Leave the cluster on SIGTERM. Off: SIGTERM (systemctl stop or restart) stops without leaving, so a restart changes nothing elsewhere; SIGINT and weft leave always leave.',
    flag: 'leave-on-terminate',
  },
  {
    path: 'gossip.join',
    type: { kind: 'list', item: 'hostport' },
    default: [],
    doc: 'Seed members to join, host:port, comma separated. Retried until one answers.',
    flag: 'join',
  },
  {
    path: 'gossip.preset',
    type: { kind: 'enum', values: ['lan', 'wan', 'local'] },
    default: MEMBERSHIP.preset,
    doc: 'Timing preset, as memberlist: lan, wan or local.',
    flag: 'preset',
  },
  {
    path: 'gossip.label',
    type: {
      kind: 'string',
      pattern: /^[\x21-\x7e]{0,64}$/,
      patternDoc: 'up to 64 printable ASCII characters, no spaces',
    },
    default: '',
    doc: 'Cluster label; nodes with another label are ignored.',
    flag: 'label',
  },
  {
    path: 'gossip.keys',
    type: { kind: 'list', item: 'key' },
    default: [],
    doc: 'AES-256-GCM keys, base64 of 32 bytes, comma separated; the first encrypts, all decrypt. Empty: no encryption.',
    flag: 'encrypt',
    secret: true,
    reloadable: true,
  },
  {
    path: 'gossip.keyFile',
    type: { kind: 'string' },
    default: '',
    doc: "Keyring file (JSON list of base64 keys, primary first, mode 0600), as serf's keyring_file: when it exists it is the keyring and gossip.keys is ignored; else it is created from gossip.keys. The agent rewrites it at every keyring change (weft keyring, SIGHUP), so a restart keeps the current keys.",
    flag: 'keyring-file',
    reloadable: true,
  },

  {
    path: 'gossip.probeInterval',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Override the preset: time between probes.',
    flag: 'probe-interval',
  },
  {
    path: 'gossip.probeTimeout',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Override the preset: wait for a direct ack before probing indirectly.',
    flag: 'probe-timeout',
  },
  {
    path: 'gossip.gossipInterval',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Override the preset: time between gossip rounds.',
    flag: 'gossip-interval',
  },
  {
    path: 'gossip.suspicionMult',
    type: { kind: 'int', min: 1, max: 100 },
    default: undefined,
    doc: 'Override the preset: suspicion timeout multiplier.',
    flag: 'suspicion-mult',
  },
  {
    path: 'gossip.retransmitMult',
    type: { kind: 'int', min: 1, max: 100 },
    default: undefined,
    doc: 'Override the preset: retransmissions per update, times log10(N+1).',
    flag: 'retransmit-mult',
  },
  {
    path: 'gossip.pushPullInterval',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Override the preset: full-state sync period (scaled up with cluster size).',
    flag: 'push-pull-interval',
  },
  {
    path: 'gossip.reapAfter',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Forget dead and left members after this long (preset: 24h).',
    flag: 'reap-after',
  },
  {
    path: 'gossip.indirectChecks',
    type: { kind: 'int', min: 0, max: 16 },
    default: undefined,
    doc: 'Override the preset: members asked to ping-req a target that did not ack.',
    flag: 'indirect-checks',
  },
  {
    path: 'gossip.gossipNodes',
    type: { kind: 'int', min: 1, max: 64 },
    default: undefined,
    doc: 'Override the preset: members each gossip round goes to.',
    flag: 'gossip-nodes',
  },
  {
    path: 'gossip.suspicionMaxTimeoutMult',
    type: { kind: 'int', min: 1, max: 100 },
    default: undefined,
    doc: 'Override the preset: longest suspicion, as a multiple of the shortest.',
    flag: 'suspicion-max-mult',
  },
  {
    path: 'gossip.awarenessMaxMultiplier',
    type: { kind: 'int', min: 1, max: 100 },
    default: undefined,
    doc: 'Override the preset: how far Lifeguard may stretch probe timings on an unhealthy node.',
    flag: 'awareness-max-mult',
  },
  {
    path: 'gossip.gossipToTheDeadTime',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Override the preset: how long dead members still receive gossip, to refute.',
    flag: 'gossip-to-dead',
  },
  {
    path: 'gossip.healInterval',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Override the preset: period of retrying seeds and dead members (partition healing).',
    flag: 'heal-interval',
  },
  {
    path: 'gossip.tcpTimeout',
    type: { kind: 'duration' },
    default: undefined,
    doc: 'Override the preset: connect and exchange timeout of gossip streams.',
    flag: 'tcp-timeout',
  },
  {
    path: 'gossip.udpPayload',
    type: { kind: 'int', min: 512, max: 65507 },
    default: undefined,
    doc: 'Override the preset: bytes per UDP packet; larger messages go over TCP.',
    flag: 'udp-payload',
  },
  {
    path: 'gossip.acceptUnstamped',
    type: { kind: 'bool' },
    default: false,
    doc: 'Also accept encrypted gossip without a sender time (agents from before replay protection): only while upgrading an encrypted cluster, as it lets their packets be replayed.',
    flag: 'accept-unstamped',
  },

  {
    path: 'store.bindPort',
    type: port(),
    default: STORE.bindPort,
    doc: 'Store replication port, UDP and TCP, on the gossip bind address (0 picks a free one). Peers learn it through gossip metadata.',
    flag: 'store-port',
  },

  // Per-node identity (issue 13): all three or none.
  {
    path: 'tls.caFile',
    type: { kind: 'string' },
    default: '',
    doc: 'The cluster CA certificate (weft tls ca create): node certificates must be issued by it. With tls.certFile and tls.keyFile, store changes are signed and checked.',
    flag: 'tls-ca-file',
  },
  {
    path: 'tls.certFile',
    type: { kind: 'string' },
    default: '',
    doc: "This node's certificate (weft tls cert create --node NAME); its CN must be node.name.",
    flag: 'tls-cert-file',
  },
  {
    path: 'tls.acceptUnsigned',
    type: { kind: 'bool' },
    default: false,
    doc: 'Migration window from shared-key-only to identity: also accept unsigned store changes (from nodes not yet given their certificate). Turn it off, with SIGHUP, once every node runs with identity.',
    flag: 'tls-accept-unsigned',
    reloadable: true,
  },
  {
    path: 'tls.keyFile',
    type: { kind: 'string' },
    default: '',
    doc: "This node's Ed25519 private key (mode 0600).",
    flag: 'tls-key-file',
  },

  {
    path: 'dns.listen',
    type: { kind: 'list', item: 'listen' },
    default: DNS.listen.map((l) => `${l.addr}:${l.port}`),
    doc: 'Addresses the DNS server answers on, UDP and TCP, ip:port, comma separated (port 0 picks a free one). Port 53 needs root or CAP_NET_BIND_SERVICE; add the Docker bridge gateway (e.g. 172.17.0.1:53) for containers. Empty: no DNS server.',
    flag: 'dns-listen',
  },
  {
    path: 'dns.domain',
    type: {
      kind: 'string',
      pattern: /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+$/,
      patternDoc: 'a lower-case domain ending in a dot, e.g. weft.internal.',
    },
    default: DNS.domain,
    doc: 'The domain weft answers for.',
    flag: 'dns-domain',
  },
  {
    path: 'dns.ttl',
    type: { kind: 'duration' },
    default: DNS.ttlS * 1000,
    doc: "TTL of weft's answers, and of its negative answers.",
    flag: 'dns-ttl',
  },
  {
    path: 'dns.forward',
    type: { kind: 'bool' },
    default: DNS.forward,
    doc: 'Forward names outside the domain to the upstreams; false answers them REFUSED.',
    flag: 'dns-forward',
  },
  {
    path: 'dns.upstreams',
    type: { kind: 'list', item: 'upstream' },
    default: [],
    doc: "Upstream resolvers, ip or ip:port, comma separated. Empty: the nameservers in /etc/resolv.conf, without weft's own addresses.",
    flag: 'dns-upstreams',
  },
  {
    path: 'dns.recursionAllow',
    type: { kind: 'list', item: 'recursion' },
    default: [...DNS.recursionAllow],
    doc: "Clients that may have names outside the domain forwarded: CIDRs, `docker` (the subnets of this host's Docker bridges, docker0 and br-*) and `overlay` (overlay.cidr, when the overlay is on). Others get REFUSED for those names; the domain is answered for everyone.",
    flag: 'dns-recursion-allow',
  },
  {
    path: 'dns.rateLimit',
    type: { kind: 'int', min: 0, max: 1_000_000 },
    default: DNS.rateLimit,
    doc: 'UDP responses per second to one client network (/24, IPv6 /56), with a burst of as many; over it, answers are dropped or slip. 0: no limit.',
    flag: 'dns-rate-limit',
  },
  {
    path: 'dns.rateLimitSlip',
    type: { kind: 'int', min: 0, max: 10 },
    default: DNS.rateLimitSlip,
    doc: 'Over the rate limit, every Nth answer goes out empty with TC set (a real client retries over TCP); the rest are dropped. 0: drop all.',
    flag: 'dns-rate-limit-slip',
  },
  {
    path: 'dns.rateLimitExempt',
    type: { kind: 'list', item: 'cidr' },
    default: [...DNS.rateLimitExempt],
    doc: 'Client networks the rate limit never applies to, CIDRs.',
    flag: 'dns-rate-limit-exempt',
  },
  {
    path: 'dns.workers',
    type: { kind: 'int', min: 0, max: 64 },
    default: DNS.workers,
    doc: `Worker processes that answer UDP queries for the zone beside the agent, reading the same sockets (more cores for DNS); started once queries arrive faster than ${DNS.workerStartQps}/s and stopped after ${DNS.workerIdleMs / 60_000} minutes without one, restarted if one exits. 0: the agent answers alone.`,
    flag: 'dns-workers',
  },

  {
    path: 'lb.datapath',
    type: { kind: 'enum', values: ['auto', 'nft', 'userspace', 'off'] },
    default: LB.datapath,
    doc: 'VIP load balancing: nft (kernel, needs root), userspace (TCP/UDP proxies on loopback), auto (nft when root and nft work), or off.',
    flag: 'lb-datapath',
  },
  {
    path: 'lb.vipCidr',
    type: {
      kind: 'string',
      pattern: /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/,
      patternDoc: 'an IPv4 CIDR such as 198.18.0.0/15',
    },
    default: LB.vipCidr,
    doc: 'Where VIP names get their addresses; the same on every node. Traffic to it that is not a live VIP is refused on the node (nft), never routed.',
    flag: 'vip-cidr',
  },
  {
    path: 'lb.vipCidr6',
    type: {
      kind: 'string',
      pattern: /^$|^[0-9a-fA-F:]+\/\d{1,3}$/,
      patternDoc: 'an IPv6 CIDR such as fd00:5::/64 (ULA), or empty for no IPv6 VIP addresses',
    },
    default: LB.vipCidr6,
    doc: 'With it, VIP names also get an IPv6 address from here (AAAA), the same on every node; literal IPv6 VIPs may lie in it. Empty (default): VIPs are IPv4 only.',
    flag: 'vip-cidr6',
  },
  {
    path: 'lb.vipAllow',
    type: { kind: 'list', item: 'cidr' },
    default: [...LB.vipAllow],
    doc: "Where literal-IP VIPs may be besides lb.vipCidr, CIDRs comma separated. Loopback, link-local, multicast, members' and the node's own addresses are refused anyway.",
    flag: 'vip-allow',
  },
  {
    path: 'lb.proxyCidr',
    type: {
      kind: 'string',
      pattern: /^127(\.\d{1,3}){3}\/\d{1,2}$/,
      patternDoc: 'a loopback CIDR such as 127.128.0.0/9',
    },
    default: LB.proxyCidr,
    doc: 'Userspace datapath: the loopback addresses its proxies listen on (one per VIP, at the VIP port).',
    flag: 'proxy-cidr',
  },
  {
    path: 'lb.affinity',
    type: { kind: 'enum', values: ['none', 'source'] },
    default: LB.affinity,
    doc: 'nft: keep a client on one backend (source) or spread every connection (none).',
    flag: 'lb-affinity',
  },
  {
    path: 'lb.policy',
    type: { kind: 'enum', values: ['round-robin', 'least-connections'] },
    default: LB.policy,
    doc: 'Userspace: how a backend is chosen.',
    flag: 'lb-policy',
  },
  {
    path: 'lb.proxyWorkers',
    type: { kind: 'int', min: 0, max: 64 },
    default: LB.proxyWorkers,
    doc: "Userspace: acceptor processes sharing the proxy's sockets (started with the first VIP); 0 runs the proxy in the agent's process.",
    flag: 'proxy-workers',
  },

  {
    path: 'overlay.enabled',
    type: { kind: 'bool' },
    default: false,
    doc: 'Program the VXLAN overlay (needs root): a subnet lease for this node, the VXLAN device, routes, neighbour and FDB entries for every live peer.',
    flag: 'overlay',
  },
  {
    path: 'overlay.cidr',
    type: {
      kind: 'string',
      pattern: /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/,
      patternDoc: 'an IPv4 CIDR such as 172.16.0.0/16',
    },
    default: OVERLAY.cidr,
    doc: 'The cluster CIDR node subnets are leased from; the same on every node.',
    flag: 'overlay-cidr',
  },
  {
    path: 'overlay.subnetPrefix',
    type: { kind: 'int', min: 8, max: 30 },
    default: OVERLAY.subnetPrefix,
    doc: "Prefix length of each node's subnet.",
    flag: 'overlay-subnet-prefix',
  },
  {
    path: 'overlay.vni',
    type: { kind: 'int', min: 1, max: 16777215 },
    default: OVERLAY.vni,
    doc: 'VXLAN network identifier.',
    flag: 'overlay-vni',
  },
  { path: 'overlay.port', type: port(1), default: OVERLAY.port, doc: 'VXLAN UDP port.', flag: 'overlay-port' },
  {
    path: 'overlay.underlay',
    type: { kind: 'string' },
    default: '',
    doc: "This node's underlay IPv4 (on a local device); empty: the source address of the route to the first peer.",
    flag: 'overlay-underlay',
  },
  {
    path: 'overlay.bridge',
    type: { kind: 'string' },
    default: OVERLAY.bridge,
    doc: "Bridge for local containers, holding the subnet's first address; empty: no bridge.",
    flag: 'overlay-bridge',
  },
  {
    path: 'overlay.docker',
    type: { kind: 'bool' },
    default: true,
    doc: "Keep a Docker network `weft` on this node's subnet and bridge (with docker.enabled and a bridge), so `docker run --network weft` puts containers on the overlay.",
    flag: 'overlay-docker',
  },
  {
    path: 'overlay.setForwarding',
    type: { kind: 'bool' },
    default: true,
    doc: 'Turn net.ipv4.ip_forward on while the overlay runs (containers on other hosts are reached through it).',
    flag: 'overlay-set-forwarding',
  },

  {
    path: 'docker.enabled',
    type: { kind: 'bool' },
    default: true,
    doc: 'Register containers labelled weft.service from the local Docker engine. With no engine the agent runs on and retries.',
    flag: 'docker',
  },
  {
    path: 'docker.socket',
    type: { kind: 'string' },
    default: '',
    doc: 'The Docker engine socket; empty: DOCKER_HOST (unix://) or /var/run/docker.sock.',
    flag: 'docker-socket',
  },

  {
    path: 'api.addr',
    type: { kind: 'ip' },
    default: '127.0.0.1',
    doc: 'HTTP API listen address. Keep it on loopback unless it is firewalled.',
    flag: 'api-addr',
  },
  { path: 'api.port', type: port(), default: 8947, doc: 'HTTP API port (0 picks a free one).', flag: 'api-port' },
  {
    path: 'api.token',
    type: { kind: 'string' },
    default: '',
    doc: 'API token for every request but /v1/health (X-Weft-Token or Authorization: Bearer); needed beyond loopback. Prefer api.tokenFile: flags show in ps.',
    flag: 'api-token',
    secret: true,
  },
  {
    path: 'api.tokenFile',
    type: { kind: 'string' },
    default: '',
    doc: 'File holding the API token (first line); keep it mode 0600.',
    flag: 'api-token-file',
  },
  {
    path: 'api.readToken',
    type: { kind: 'string' },
    default: '',
    doc: 'Optional second token that may only read (GET), e.g. for Prometheus.',
    flag: 'api-read-token',
    secret: true,
  },
  {
    path: 'api.readTokenFile',
    type: { kind: 'string' },
    default: '',
    doc: 'File holding the read-only token (first line).',
    flag: 'api-read-token-file',
  },
  {
    path: 'api.allowedHosts',
    type: { kind: 'list', item: 'string' },
    default: [],
    doc: "More Host names the API answers to, besides its address, localhost, 127.0.0.1, [::1] and the node's name and addresses (DNS-rebinding defence).",
    flag: 'api-allowed-hosts',
  },
  {
    path: 'api.maxConnections',
    type: { kind: 'int', min: 1, max: 65535 },
    default: 512,
    doc: 'Open API connections at most; more are closed at once.',
    flag: 'api-max-connections',
  },
  {
    path: 'api.maxConnectionsPerClient',
    type: { kind: 'int', min: 1, max: 65535 },
    default: 100,
    doc: 'Open API connections at most from one client address.',
    flag: 'api-max-connections-per-client',
  },
  {
    path: 'api.maxWatches',
    type: { kind: 'int', min: 0, max: 65535 },
    default: 256,
    doc: 'Watch streams (?watch=true) open at once at most; more get 503.',
    flag: 'api-max-watches',
  },

  {
    path: 'security.insecure',
    type: { kind: 'bool' },
    default: false,
    doc: 'Allow gossip or the API on a non-loopback address without encryption keys and an API token.',
    flag: 'insecure',
  },

  {
    path: 'log.level',
    type: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] },
    default: 'info',
    doc: 'Log level.',
    flag: 'log-level',
    reloadable: true,
  },
  {
    path: 'log.format',
    type: { kind: 'enum', values: ['auto', 'json', 'pretty'] },
    default: 'auto',
    doc: 'Log format: JSON lines, readable lines, or auto (readable on a TTY).',
    flag: 'log-format',
  },

  {
    path: 'events.handlers',
    type: { kind: 'handlers' },
    default: [],
    doc: 'serf-style handlers: a list of {on, exec}; on is member-join, member-leave, member-failed, member-update, user or user:NAME; exec runs with /bin/sh -c, the event as JSON on stdin and WEFT_EVENT (and for user events WEFT_EVENT_NAME, WEFT_EVENT_ORIGIN) set. One run at a time, in order. From a flag or the environment: JSON.',
    flag: 'event-handlers',
  },
  {
    path: 'events.handlerTimeout',
    type: { kind: 'duration' },
    default: 30_000,
    doc: 'An event handler still running after this is killed with its process group.',
    flag: 'event-handler-timeout',
  },

  {
    path: 'supervision.maxRestarts',
    type: { kind: 'int', min: 0, max: 1000 },
    default: 5,
    doc: 'Restart intensity: at most this many restarts of the components...',
    flag: 'max-restarts',
  },
  {
    path: 'supervision.periodMs',
    type: { kind: 'duration' },
    default: 10_000,
    doc: '...within this period; beyond it the agent exits non-zero for its service manager to restart.',
    flag: 'restart-period',
  },

  {
    path: 'checks.allowScripts',
    type: { kind: 'bool' },
    default: CHECKS.allowScripts,
    doc: "Accept script checks registered through the API: they run commands on this host as the agent's user. Never from Docker labels.",
    flag: 'checks-allow-scripts',
  },
  {
    path: 'checks.allowContainerScripts',
    type: { kind: 'bool' },
    default: CHECKS.allowContainerScripts,
    doc: 'Run the weft.check.script label of a container inside that container (Docker exec, as an argv; ["sh", "-c", "..."] for a shell). Off: such labels are refused and the container is not registered.',
    flag: 'checks-allow-container-scripts',
  },

  // Service definitions as files (issue 14, src/service-files.ts).
  {
    path: 'services.list',
    type: { kind: 'services' },
    default: [],
    doc: 'Services this node registers, each as the body of POST /v1/services: {service, id?, addrs?, ports?, vips?, tags?, meta?, checks?}. Owned by this node like API registrations; a SIGHUP or weft reload adds, updates and removes them. A set with any problem (bad field, id given twice) is not applied and the running set stays.',
    flag: 'services',
    reloadable: true,
  },
  {
    path: 'services.dir',
    type: { kind: 'string' },
    default: '',
    doc: 'Directory of service definition files (*.yaml, *.yml, *.json; hidden files are skipped), each one service as in services.list or a list of them. Read at start and at every SIGHUP or weft reload, all or nothing: a bad file is reported by name and nothing changes. Empty: none.',
    flag: 'services-dir',
    reloadable: true,
  },
];

function defaultNodeName(): string {
  const h = hostname().split('.')[0] ?? 'weft';
  const cleaned = h
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return cleaned || 'weft';
}

export function flagOf(k: KeySpec): string {
  return k.flag ?? k.path.replace(/\./g, '-').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** `gossip.bindAddr` → `WEFT_GOSSIP_BIND_ADDR`. */
export function envOf(k: KeySpec): string {
  return (
    'WEFT_' +
    k.path
      .replace(/([a-z])([A-Z])/g, '$1_$2')
      .replace(/\./g, '_')
      .toUpperCase()
  );
}

export function describeType(t: KeyType): string {
  switch (t.kind) {
    case 'string':
      return t.patternDoc ?? 'a string';
    case 'int':
      return `an integer from ${t.min} to ${t.max}`;
    case 'bool':
      return 'true or false';
    case 'enum':
      return 'one of ' + t.values.join(', ');
    case 'duration':
      return 'a duration with its unit, such as 500ms, 10s or 2m (a bare number is refused: seconds or milliseconds?)';
    case 'ip':
      return 'an IPv4 or IPv6 address';
    case 'handlers':
      return 'a list of {on, exec} handlers';
    case 'services':
      return 'a list of service definitions (each as the body of POST /v1/services; JSON from a flag or the environment)';
    case 'tags':
      return 'key=value pairs (keys 1-64 of A-Z a-z 0-9 _ . -, values up to 128 printable characters without , and =), 256 bytes at most as JSON';
    case 'list':
      return t.item === 'hostport'
        ? 'a list of host:port'
        : t.item === 'key'
          ? 'a list of base64 32-byte keys'
          : t.item === 'listen'
            ? 'a list of ip:port ([v6]:port), port 0-65535'
            : t.item === 'upstream'
              ? 'a list of ip or ip:port ([v6]:port)'
              : t.item === 'cidr'
                ? 'a list of CIDRs (a.b.c.d/n or v6/n)'
                : t.item === 'recursion'
                  ? 'a list of CIDRs (a.b.c.d/n or v6/n), docker or overlay'
                  : 'a list of strings';
  }
}

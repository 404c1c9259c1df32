// The .deb (issue 15): `npm run package`'s script builds it, dpkg installs it into a
// throwaway root (--root, maintainer scripts run without a chroot, as DPKG_ROOT says), and
// from there: the systemd unit verifies clean, `weft --version` and `--print-config` run with
// no Node or npm on PATH and with the code cache the package was built with, and the packaged
// agent starts, answers its API, and serves a VIP through its userspace proxy's workers (which
// it forks from files beside the bundle).
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_GLIBC_TUNABLES, AGENT_NODE_FLAGS } from '../src/node-flags.js';
import { startAgent } from './helpers/agent-process.js';
import { eventually } from './helpers/eventually.js';
import { skipUnless } from './helpers/system.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
// A host without Node or npm: PATH is a folder of links to this host's programs but those.
const bareBin = mkdtempSync(join(tmpdir(), 'weft-bare-bin-'));
t.teardown(() => rmSync(bareBin, { recursive: true, force: true }));
for (const dir of ['/usr/sbin', '/usr/bin']) {
  for (const name of readdirSync(dir)) {
    if (!/^(node|nodejs|npm|npx|corepack)$/.test(name) && !existsSync(join(bareBin, name)))
      symlinkSync(join(dir, name), join(bareBin, name));
  }
}
const bare = { env: { PATH: bareBin }, encoding: 'utf8' as const };

t.test(
  'the .deb installs, verifies and runs',
  { skip: skipUnless({ commands: ['dpkg-deb', 'dpkg', 'systemd-analyze'] }) },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-deb-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(process.execPath, [join(repo, 'scripts/package.mjs')], {
      env: { ...process.env, WEFT_PACKAGE_OUT: join(dir, 'out'), WEFT_DEB_COMPRESS: 'gzip', WEFT_DEB_LEVEL: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deb = join(
      dir,
      'out',
      `weft_${version}_${execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim()}.deb`,
    );
    t.ok(existsSync(deb), deb);

    const root = join(dir, 'root');
    mkdirSync(join(root, 'var/lib/dpkg/updates'), { recursive: true });
    mkdirSync(join(root, 'var/lib/dpkg/info'));
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    // --force-depends: the throwaway root has no libc6 package in its dpkg database (its files are the host's).
    const installed = spawnSync(
      'dpkg',
      ['--root', root, '--force-script-chrootless', '--force-depends', '--force-not-root', '-i', deb],
      { encoding: 'utf8' },
    );
    t.equal(installed.status, 0, `dpkg -i: ${installed.stderr}`);

    t.test('files, modes and the conffile', async (t) => {
      t.equal(statSync(join(root, 'etc/weft/weft.yaml')).mode & 0o777, 0o600, 'the config may hold keys: 0600');
      t.match(
        readFileSync(join(root, 'var/lib/dpkg/info/weft.conffiles'), 'utf8'),
        '/etc/weft/weft.yaml',
        "an upgrade keeps the operator's config",
      );
      t.ok(statSync(join(root, 'usr/lib/weft/bin/node')).mode & 0o111, 'carries its own Node runtime');
      t.notOk(
        existsSync(join(root, 'usr/lib/weft/node_modules/@automerge/automerge/dist/iife')),
        'Automerge pruned to its Node build',
      );
    });

    t.test('systemd-analyze verify: no warning at all', async (t) => {
      // verify resolves the unit's commands and dependencies inside --root: give the root
      // the host's units and /bin/kill, as any real host has them.
      cpSync('/lib/systemd/system', join(root, 'lib/systemd/system'), {
        recursive: true,
        force: false,
        errorOnExist: false,
      });
      mkdirSync(join(root, 'bin'), { recursive: true });
      cpSync('/bin/kill', join(root, 'bin/kill'));
      const v = spawnSync('systemd-analyze', [`--root=${root}`, 'verify', 'weft.service'], { encoding: 'utf8' });
      t.equal(v.status, 0);
      t.equal(v.stderr.trim(), '', 'systemd reports nothing (it only warns about unknown keys or values)');
      const unit = readFileSync(join(root, 'lib/systemd/system/weft.service'), 'utf8');
      for (const line of [
        'After=network-online.target docker.service',
        'Wants=network-online.target',
        'Restart=always',
        'StateDirectory=weft',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW',
      ]) {
        t.ok(unit.split('\n').includes(line), line);
      }
    });

    const weft = join(root, 'usr/bin/weft');
    t.test('weft --version and --print-config run with no Node on PATH', async (t) => {
      t.not(spawnSync('/bin/sh', ['-c', 'command -v node'], bare).status, 0, 'no node on the PATH the test gives weft');
      const v = spawnSync(weft, ['--version'], bare);
      t.equal(v.status, 0, v.stderr);
      t.equal(v.stdout.trim(), version);
      const c = spawnSync(weft, ['agent', '--config', join(root, 'etc/weft/weft.yaml'), '--print-config'], bare);
      t.equal(c.status, 0, c.stderr);
      t.match(c.stdout, /dataDir: \/var\/lib\/weft {2}# file/, 'the packaged config file is read and valid');
    });

    t.test('the packaged command runs with its code cache', async (t) => {
      const v = spawnSync(weft, ['--version'], { ...bare, env: { ...bare.env, WEFT_CODE_CACHE_DEBUG: '1' } });
      t.equal(v.status, 0, v.stderr);
      t.match(v.stderr, /^weft: code cache used \(/, 'V8 took the cache made when the package was built');
      t.equal(v.stdout.trim(), version);
    });

    t.test('the packaged agent starts and serves', async (t) => {
      // The Node modules the agent loaded, written when it exits.
      const modules = join(dir, 'modules.txt');
      const preload = join(dir, 'modules.cjs');
      writeFileSync(
        preload,
        `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(modules)}, process.moduleLoadList.join('\\n')));\n`,
      );
      const agent = await startAgent(
        t,
        ['--node', 'pkg1', '--bind', '127.0.0.1', '--data-dir', join(dir, 'data')],
        { ...bare.env, NODE_OPTIONS: `--require ${preload}` },
        60_000,
        [weft],
      );
      const health = await fetch(`${agent.ready.api}/v1/health`);
      t.equal(health.status, 200);
      const metrics = await fetch(`${agent.ready.api}/metrics`);
      t.match(
        await metrics.text(),
        /^weft_members\b/m,
        'prom-client serves the metrics (the bundle leaves out only its Pushgateway)',
      );
      // The wrapper execs node, so the agent's pid is node's.
      t.ok(readFileSync(weft, 'utf8').includes(AGENT_GLIBC_TUNABLES), 'the wrapper tunes malloc (src/node-flags.ts)');
      // /proc/PID/environ may show the first tunable only: glibc 2.36 cuts the original string
      // once it has read them all (the environment it hands on keeps the whole list).
      const tunables = process.env.GLIBC_TUNABLES ?? AGENT_GLIBC_TUNABLES;
      const environ = readFileSync(`/proc/${agent.proc.pid}/environ`, 'utf8').split('\0');
      const seen = environ.find((v) => v.startsWith('GLIBC_TUNABLES='))?.slice('GLIBC_TUNABLES='.length);
      t.ok(seen === tunables || seen === tunables.split(':')[0], `the agent runs with ${tunables}: ${seen}`);
      const cmdline = readFileSync(`/proc/${agent.proc.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of AGENT_NODE_FLAGS) t.ok(cmdline.includes(flag), `the wrapper runs node with ${flag}`);
      const put = spawnSync(weft, ['kv', 'put', 'pkg/x', '{"ok":true}', '--api', agent.ready.api!], bare);
      t.equal(put.status, 0, put.stderr);
      const get = spawnSync(weft, ['kv', 'get', 'pkg/x', '--api', agent.ready.api!], bare);
      t.match(get.stdout, /"ok": ?true/);
      agent.proc.kill('SIGTERM');
      await agent.exited;
      const loaded = readFileSync(modules, 'utf8').split('\n');
      t.ok(loaded.includes('NativeModule http'), 'the module list was written');
      t.notOk(
        loaded.includes('NativeModule tls'),
        "a default agent never loads Node's tls (prom-client's Pushgateway did)",
      );
    });

    t.test("the packaged agent's userspace proxy workers serve a VIP", async (t) => {
      const backend = createServer((_req, res) => res.end('from the backend\n'));
      await new Promise<void>((r) => backend.listen(0, '127.0.9.10', r));
      t.teardown(() => backend.close());
      const port = (backend.address() as AddressInfo).port;
      const agent = await startAgent(
        t,
        ['--node', 'pkg2', '--bind', '127.0.9.1', '--lb-datapath', 'userspace', '--proxy-cidr', '127.202.0.0/16'],
        bare.env,
        60_000,
        [weft],
      );
      const api = ['--api', agent.ready.api!];
      const reg = spawnSync(
        weft,
        ['service', 'register', 'web', '--addr', '127.0.9.10', '--vip', `web:8080->${port}`, ...api],
        bare,
      );
      t.equal(reg.status, 0, reg.stderr);
      const web = async () => {
        const res = await fetch(`${agent.ready.api}/v1/vips`);
        const { vips } = (await res.json()) as { vips: { vip: string; listen?: string; backends: string[] }[] };
        return vips.find((v) => v.vip === 'web' && v.backends.length === 1);
      };
      await eventually('the VIP has its backend', async () => (await web()) !== undefined, 10_000);
      const listen = (await web())!.listen;
      t.equal(
        await (await fetch(`http://${listen}/`)).text(),
        'from the backend\n',
        'traffic through the VIP reaches the backend',
      );
      const metrics = await (await fetch(`${agent.ready.api}/metrics`)).text();
      t.notMatch(metrics, /weft_lb_proxy_worker_restarts_total [1-9]/, 'no proxy worker died');
    });
  },
);

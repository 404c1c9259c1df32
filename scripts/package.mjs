// `npm run package`: builds build/weft_<version>_<arch>.deb from dist/ (run after tsc).
//
// What it ships, and why (README, "Install on hosts"):
// - dist/: the CLI and agent bundled by esbuild (scripts/bundle.mjs), so the host needs no npm
//   and no build step, and start-up reads one file instead of ~400 modules: weft.cjs runs
//   weft-main.cjs with V8's code cache, made here by the Node the package ships (bin/node),
//   and the DNS and proxy workers beside them.
// - node_modules/@automerge/automerge, pruned to its Node entry points: crdt-store/automerge.ts
//   loads Automerge's wasm bindings by path next to that entry (they read the .wasm file
//   beside them), so the package keeps Automerge as a package, and the bundle imports it.
// - bin/node: the Node runtime this was built with. Debian 12 ships Node 18 and weft needs
//   >= 20, so the package carries its own rather than depending on a version hosts lack.
// - /usr/bin/weft: a shell wrapper that runs the bundle with that node and the agent's V8 flags.
//
// Env: WEFT_DEB_COMPRESS (default "xz") and WEFT_DEB_LEVEL (default 6), WEFT_PACKAGE_OUT (default
// build/); the test passes gzip, 1 and its own folder.
import { bundleCli, makeCodeCache } from './bundle.mjs';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const { AGENT_NODE_FLAGS, AGENT_GLIBC_TUNABLES } = await import(join(repo, 'dist/src/node-flags.js'));
const { exampleConfig } = await import(join(repo, 'dist/src/config-example.js'));

const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const out = process.env.WEFT_PACKAGE_OUT || join(repo, 'build');
const root = join(out, 'root');
const lib = join(root, 'usr/lib/weft');
rmSync(root, { recursive: true, force: true });
mkdirSync(join(lib, 'dist'), { recursive: true });

await bundleCli(join(lib, 'dist'));
// src/version.ts reads ../package.json relative to the bundle.
writeFileSync(
  join(lib, 'package.json'),
  JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }, null, 2) + '\n',
);
copyAutomerge(join(repo, 'node_modules/@automerge/automerge'), join(lib, 'node_modules/@automerge/automerge'));
// The dashboard's static files (scripts/build-ui.mjs), beside the bundle: src/ui-routes.ts looks there.
cpSync(join(repo, 'dist/ui'), join(lib, 'dist/ui'), { recursive: true });
mkdirSync(join(lib, 'bin'));
cpSync(process.execPath, join(lib, 'bin/node'));
// After the package.json (the agent reads its version) and Automerge are in place.
await makeCodeCache(join(lib, 'dist'), join(lib, 'bin/node'), AGENT_NODE_FLAGS);

writeExecutable(
  join(root, 'usr/bin/weft'),
  [
    '#!/bin/sh',
    '# weft, as packaged: the bundled CLI on the Node runtime the package carries.',
    '# Beside this script (an install into another root), else where the package puts it.',
    'lib="${0%/bin/weft}/lib/weft"',
    '[ -x "$lib/bin/node" ] || lib=/usr/lib/weft',
    '# malloc gives back what the start frees (src/node-flags.ts); a GLIBC_TUNABLES of the host wins.',
    `export GLIBC_TUNABLES="\${GLIBC_TUNABLES:-${AGENT_GLIBC_TUNABLES}}"`,
    `exec "$lib/bin/node" ${AGENT_NODE_FLAGS.join(' ')} "$lib/dist/weft.cjs" "$@"`,
    '',
  ].join('\n'),
);
mkdirSync(join(root, 'etc/weft'), { recursive: true });
writeFileSync(join(root, 'etc/weft/weft.yaml'), exampleConfig({ 'node.dataDir': '/var/lib/weft' }), { mode: 0o600 });
mkdirSync(join(root, 'lib/systemd/system'), { recursive: true });
cpSync(join(repo, 'packaging/weft.service'), join(root, 'lib/systemd/system/weft.service'));
mkdirSync(join(root, 'usr/share/doc/weft'), { recursive: true });
cpSync(join(repo, 'README.md'), join(root, 'usr/share/doc/weft/README.md'));
cpSync(join(repo, 'LICENSE'), join(root, 'usr/share/doc/weft/copyright'));

writeControl();
const deb = join(out, `${pkg.name}_${pkg.version}_${arch}.deb`);
const compress = process.env.WEFT_DEB_COMPRESS ?? 'xz';
const level = process.env.WEFT_DEB_LEVEL ?? '6';
execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compress}`, `-z${level}`, '--build', root, deb], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
console.log(`${deb} (${(statSync(deb).size / 1e6).toFixed(1)} MB)`);

function writeControl() {
  const debian = join(root, 'DEBIAN');
  mkdirSync(debian);
  for (const script of ['postinst', 'prerm', 'postrm'])
    cpSync(join(repo, 'packaging/debian', script), join(debian, script));
  const kb = Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', root], { encoding: 'utf8' }).split('\t')[0]);
  const control = [
    `Package: ${pkg.name}`,
    `Version: ${pkg.version}`,
    `Architecture: ${arch}`,
    'Maintainer: weft maintainers <weft@localhost>',
    `Installed-Size: ${kb}`,
    // The bundled node links these dynamically.
    'Depends: libc6 (>= 2.28), libstdc++6 (>= 10)',
    'Recommends: nftables, iproute2, conntrack',
    'Suggests: docker.io',
    'Section: net',
    'Priority: optional',
    `Description: ${pkg.description}`,
    ' Runs on every node of a cluster as a systemd service; see /usr/share/doc/weft/README.md.',
    '',
  ];
  writeFileSync(join(debian, 'control'), control.join('\n'));
  writeFileSync(join(debian, 'conffiles'), '/etc/weft/weft.yaml\n');
}

/** Automerge's Node entry points and the Node wasm bindings; not its browser, Deno or bundler builds. */
function copyAutomerge(from, to) {
  cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = src.slice(from.length);
      if (/\.(d\.ts|map|md)$/.test(rel)) return false;
      if (/^\/dist\/(iife|automerge\.wasm)/.test(rel)) return false;
      // Other builds' JavaScript is imported by the shared modules; their wasm never loads.
      if (/^\/dist\/mjs\/wasm_bindgen_output\/(?!nodejs\/).*\.wasm$/.test(rel)) return false;
      if (/base64/.test(rel)) return false;
      return true;
    },
  });
}

function writeExecutable(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

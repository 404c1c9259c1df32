// A node loads only the code of what it runs: dockerode (with ssh2, grpc and protobufjs, about
// 12 MB and a third of the start-up) is loaded once a Docker socket exists, and never by an
// agent with Docker off or absent; of Automerge, only the wasm bindings the store drives, never
// the proxy API (~60 ms of every start). A preload writes the CommonJS modules the agent loaded
// (dockerode and its dependencies are CommonJS) when it exits, and a resolve hook the ES modules.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI, startAgent, type Teardown } from '../test/helpers/agent-process.js';
import { AGENT_NODE_FLAGS } from './node-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'weft-lazy-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const preload = join(dir, 'loaded.cjs');
writeFileSync(
  preload,
  "process.on('exit', () => require('node:fs').writeFileSync(process.env.WEFT_TEST_LOADED, Object.keys(require.cache).join('\\n')));\n",
);
const esmHook = join(dir, 'esm-hook.mjs');
writeFileSync(
  esmHook,
  [
    "import { appendFileSync } from 'node:fs';",
    'export async function resolve(specifier, context, next) {',
    '  const r = await next(specifier, context);',
    "  appendFileSync(process.env.WEFT_TEST_ESM, r.url + '\\n');",
    '  return r;',
    '}',
  ].join('\n'),
);
const esmPreload = join(dir, 'esm-preload.mjs');
writeFileSync(
  esmPreload,
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(esmHook).href)});\n`,
);

/** Starts an agent that records its modules; `stop` ends it and returns them (CommonJS files, ES module URLs). */
async function traced(t: Teardown, name: string, args: string[]) {
  const out = join(dir, `${name}.txt`);
  const esm = join(dir, `${name}.esm.txt`);
  const agent = await startAgent(
    t,
    ['--bind', '127.0.0.1', '--node', name, ...args],
    { WEFT_TEST_LOADED: out, WEFT_TEST_ESM: esm },
    60_000,
    [process.execPath, ...AGENT_NODE_FLAGS, '--require', preload, '--import', esmPreload, CLI],
  );
  const stop = async (): Promise<{ code: number | string; loaded: string[]; esm: string[] }> => {
    agent.proc.kill('SIGTERM');
    const code = await agent.exited;
    return { code, loaded: readFileSync(out, 'utf8').split('\n'), esm: readFileSync(esm, 'utf8').split('\n') };
  };
  return { agent, stop };
}

t.test('an agent with Docker off never loads dockerode', async (t) => {
  const { code, loaded } = await (await traced(t, 'docker-off', ['--docker', 'false'])).stop();
  t.equal(code, 0, 'the agent stopped cleanly');
  t.ok(loaded.length > 10, `the preload saw the agent's modules (${loaded.length})`);
  t.same(
    loaded.filter((f) => /node_modules\/(dockerode|docker-modem|ssh2|@grpc)\//.test(f)),
    [],
    'no dockerode, docker-modem, ssh2 or grpc',
  );
});

t.test('an agent whose Docker socket does not exist says so, and does not load dockerode', async (t) => {
  const socket = join(dir, 'no.sock');
  const { agent, stop } = await traced(t, 'docker-absent', ['--docker', 'true', '--docker-socket', socket]);
  const line = await agent.waitForLine((l) => String(l.msg).startsWith('no Docker engine at'), 30_000);
  t.match(line.msg, socket, 'the log names the socket');
  const { code, loaded } = await stop();
  t.equal(code, 0, 'the agent stopped cleanly');
  t.same(
    loaded.filter((f) => f.includes('node_modules/dockerode/')),
    [],
    'no dockerode while there is no engine',
  );
});

t.test("an agent loads Automerge's wasm bindings, never its proxy API", async (t) => {
  const { code, loaded, esm } = await (await traced(t, 'automerge', ['--docker', 'false'])).stop();
  t.equal(code, 0, 'the agent stopped cleanly');
  t.ok(
    esm.some((u) => u.includes('/dist/src/agent.js')),
    `the hook saw the agent's ES modules (${esm.length})`,
  );
  t.ok(
    loaded.some((f) => f.endsWith('wasm_bindgen_output/nodejs/automerge_wasm.cjs')),
    'the store loaded the wasm bindings',
  );
  t.same(
    esm.filter((u) => /@automerge\/automerge\/dist\/mjs\/(index|entrypoints\/)/.test(u)),
    [],
    "no module of Automerge's proxy API",
  );
});

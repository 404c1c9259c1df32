// The dashboard's shell: the login (when the agent needs a token), the views by #hash, and
// the keyboard: each view is a link, and 1-7 jump to them.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, onUnauthorized, token } from './api.js';
import { Agent } from './views/agent.js';
import { Cluster } from './views/cluster.js';
import { Dns } from './views/dns.js';
import { Kv } from './views/kv.js';
import { Overlay } from './views/overlay.js';
import { Services } from './views/services.js';
import { Vips } from './views/vips.js';

const VIEWS = {
  cluster: ['Cluster', Cluster],
  services: ['Services', Services],
  vips: ['VIPs', Vips],
  dns: ['DNS', Dns],
  kv: ['KV', Kv],
  overlay: ['Overlay', Overlay],
  agent: ['This agent', Agent],
} as const;
type ViewName = keyof typeof VIEWS;

const current = (): ViewName => {
  const h = location.hash.slice(1);
  return h in VIEWS ? (h as ViewName) : 'cluster';
};

function Login({ onDone, failed }: { onDone: () => void; failed: boolean }) {
  const [t, setT] = useState('');
  return (
    <main>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          token.set(t.trim());
          onDone();
        }}
      >
        <h2>This agent needs its API token</h2>
        <p class="muted">It is kept in this tab only (sessionStorage) and sent with each request.</p>
        {failed && (
          <p class="error" role="alert">
            The token was not accepted; check it against the agent's api.tokenFile.
          </p>
        )}
        <input
          type="password"
          aria-label="API token"
          value={t}
          onInput={(e) => setT(e.currentTarget.value)}
          autoFocus
        />{' '}
        <button type="submit">Open</button>
      </form>
    </main>
  );
}

function App() {
  const [view, setView] = useState<ViewName>(current());
  // The view starts at once, its stream in parallel with this check: a 401 from either shows the login.
  const [auth, setAuth] = useState<'ok' | 'needed' | 'refused'>('ok');
  const check = () =>
    call('GET', '/v1/members/self').then(
      () => setAuth('ok'),
      (e: { status?: number }) => setAuth(e.status === 401 ? (token.get() ? 'refused' : 'needed') : 'ok'),
    );
  useEffect(() => {
    void check();
    const unauthorized = () => setAuth(token.get() ? 'refused' : 'needed');
    onUnauthorized.add(unauthorized);
    const onHash = () => setView(current());
    const onKey = (e: KeyboardEvent) => {
      const n = Number(e.key);
      const tag = (e.target as HTMLElement).tagName;
      if (n >= 1 && n <= 7 && !['INPUT', 'TEXTAREA', 'SELECT'].includes(tag))
        location.hash = Object.keys(VIEWS)[n - 1]!;
    };
    addEventListener('hashchange', onHash);
    addEventListener('keydown', onKey);
    return () => {
      onUnauthorized.delete(unauthorized);
      removeEventListener('hashchange', onHash);
      removeEventListener('keydown', onKey);
    };
  }, []);
  if (auth === 'needed' || auth === 'refused') return <Login failed={auth === 'refused'} onDone={() => void check()} />;
  const Shown = VIEWS[view][1];
  return (
    <>
      <header>
        <h1>weft</h1>
        <nav aria-label="views">
          {Object.entries(VIEWS).map(([k, [label]], i) => (
            <a key={k} href={`#${k}`} aria-current={k === view ? 'page' : undefined} title={`${label} (${i + 1})`}>
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main>
        <Shown />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

// KV: browse by prefix (live, from the store's watch stream), view, edit and delete. A value
// must be JSON before it is sent; the agent's own validation still decides.
import { useEffect, useState } from 'preact/hooks';
import { call, follow } from '../api.js';

interface KvLine {
  op: 'put' | 'delete';
  key: string;
  value?: unknown;
  error?: string;
}

const keyPath = (key: string) => '/v1/kv/' + key.split('/').map(encodeURIComponent).join('/');

/** The prefix's keys and values, kept up to date by /v1/kv?watch=true. */
function useKv(prefix: string) {
  const [entries, setEntries] = useState(new Map<string, unknown>());
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const ctl = new AbortController();
    setEntries(new Map());
    follow(
      `/v1/kv?watch=true&prefix=${encodeURIComponent(prefix)}`,
      (l) => {
        const line = l as KvLine;
        if (line.error) return setError(line.error);
        setEntries((m) => {
          const next = new Map(m);
          if (line.op === 'put') next.set(line.key, line.value);
          else next.delete(line.key);
          return next;
        });
      },
      ctl.signal,
      (s) => setError(s.connected ? undefined : s.error),
    );
    return () => ctl.abort();
  }, [prefix]);
  return { entries, error };
}

export function Kv() {
  const [prefix, setPrefix] = useState('');
  const { entries, error } = useKv(prefix);
  const [key, setKey] = useState('');
  const [text, setText] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | undefined>();
  const keys = [...entries.keys()].sort();
  const open = (k: string) => {
    setKey(k);
    setText(JSON.stringify(entries.get(k), null, 2));
    setMsg(undefined);
  };
  const save = async () => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return setMsg({
        ok: false,
        text: `Not saved: the value is not valid JSON (${(e as Error).message}). A string needs quotes: "text".`,
      });
    }
    if (!key) return setMsg({ ok: false, text: 'Not saved: give the key a name.' });
    try {
      await call('PUT', keyPath(key), value);
      setMsg({ ok: true, text: `Saved ${key}.` });
    } catch (e) {
      setMsg({ ok: false, text: `Not saved: ${(e as Error).message}` });
    }
  };
  const remove = async () => {
    try {
      await call('DELETE', keyPath(key));
      setMsg({ ok: true, text: `Deleted ${key}.` });
    } catch (e) {
      setMsg({ ok: false, text: `Not deleted: ${(e as Error).message}` });
    }
  };
  return (
    <section aria-labelledby="h-kv">
      <h2 id="h-kv">KV</h2>
      <div class="bar">
        <label>
          Prefix <input value={prefix} onChange={(e) => setPrefix(e.currentTarget.value)} aria-label="prefix" />
        </label>
        <span class="muted">{keys.length} keys, live</span>
        {error && <span class="error">{error}</span>}
      </div>
      <div class="split">
        <ul class="timeline" style={{ maxHeight: '28rem' }} aria-label="stored keys">
          {keys.map((k) => (
            <li key={k}>
              <a href="#kv" data-key={k} onClick={(e) => (e.preventDefault(), open(k))}>
                {k}
              </a>
            </li>
          ))}
        </ul>
        <form onSubmit={(e) => (e.preventDefault(), void save())}>
          <input
            aria-label="key"
            placeholder="key"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            style={{ width: '100%' }}
          />
          <textarea aria-label="value (JSON)" value={text} onInput={(e) => setText(e.currentTarget.value)} />
          <div class="bar">
            <button type="submit">Save</button>
            <button type="button" onClick={() => void remove()} disabled={!entries.has(key)}>
              Delete
            </button>
          </div>
          {msg && (
            <p class={msg.ok ? 'ok' : 'error'} role="alert" data-kv-message>
              {msg.text}
            </p>
          )}
        </form>
      </div>
    </section>
  );
}

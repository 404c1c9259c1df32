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
  const [msg, setMsg] = useState<Message>();
  const keys = [...entries.keys()].sort();
  const open = (k: string) => {
    setKey(k);
    setText(JSON.stringify(entries.get(k), null, 2));
    setMsg(undefined);
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
        <Editor {...{ keyName: key, setKey, text, setText, msg, setMsg, exists: entries.has(key) }} />
      </div>
    </section>
  );
}

type Message = { ok: boolean; text: string } | undefined;

interface EditorProps {
  /** The key being edited (not `key`: Preact keeps that prop for itself). */
  keyName: string;
  setKey: (k: string) => void;
  text: string;
  setText: (t: string) => void;
  msg: Message;
  setMsg: (m: Message) => void;
  exists: boolean;
}

/** Saves only JSON (checked here first, then by the agent); a string needs its quotes. */
async function save(key: string, text: string): Promise<Message> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      text: `Not saved: the value is not valid JSON (${(e as Error).message}). A string needs quotes: "text".`,
    };
  }
  if (!key) return { ok: false, text: 'Not saved: give the key a name.' };
  try {
    await call('PUT', keyPath(key), value);
    return { ok: true, text: `Saved ${key}.` };
  } catch (e) {
    return { ok: false, text: `Not saved: ${(e as Error).message}` };
  }
}

async function remove(key: string): Promise<Message> {
  try {
    await call('DELETE', keyPath(key));
    return { ok: true, text: `Deleted ${key}.` };
  } catch (e) {
    return { ok: false, text: `Not deleted: ${(e as Error).message}` };
  }
}

function Editor({ keyName: key, setKey, text, setText, msg, setMsg, exists }: EditorProps) {
  return (
    <form onSubmit={(e) => (e.preventDefault(), void save(key, text).then(setMsg))}>
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
        <button type="button" onClick={() => void remove(key).then(setMsg)} disabled={!exists}>
          Delete
        </button>
      </div>
      {msg && (
        <p class={msg.ok ? 'ok' : 'error'} role="alert" data-kv-message>
          {msg.text}
        </p>
      )}
    </form>
  );
}

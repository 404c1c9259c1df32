// KV: browse by prefix (live, from the store's watch stream), view, edit and delete. A value
// must be JSON before it is sent; the agent's own validation still decides. A save is a
// compare-and-swap against the index the key had when it was opened (0 for a key that was
// not opened: create only), so an edit never overwrites a change made meanwhile by someone else.
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, call, follow } from '../api.js';

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
  const [base, setBase] = useState<Base>();
  const keys = [...entries.keys()].sort();
  // The value and its index from one read: the watch stream's value may be older than the index.
  const open = (k: string) => {
    setKey(k);
    setMsg(undefined);
    call<{ value: unknown; index: number }>('GET', keyPath(k)).then(
      (r) => (setText(JSON.stringify(r.value, null, 2)), setBase({ key: k, index: r.index })),
      (e: Error) => setMsg({ ok: false, text: `Could not open ${k}: ${e.message}` }),
    );
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
        <Editor {...{ keyName: key, setKey, text, setText, msg, setMsg, exists: entries.has(key), base, setBase }} />
      </div>
    </section>
  );
}

type Message = { ok: boolean; text: string } | undefined;
/** The key last opened (or saved) and its index then. */
type Base = { key: string; index: number } | undefined;

interface EditorProps {
  /** The key being edited (not `key`: Preact keeps that prop for itself). */
  keyName: string;
  setKey: (k: string) => void;
  text: string;
  setText: (t: string) => void;
  msg: Message;
  setMsg: (m: Message) => void;
  exists: boolean;
  base: Base;
  setBase: (b: Base) => void;
}

/** Saves only JSON (checked here first, then by the agent); a string needs its quotes. */
async function save(key: string, text: string, base: Base, setBase: (b: Base) => void): Promise<Message> {
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
  const cas = base?.key === key ? base.index : 0;
  try {
    const r = await call<{ index: number }>('PUT', `${keyPath(key)}?cas=${cas}`, value);
    setBase({ key, index: r.index });
    return { ok: true, text: `Saved ${key}.` };
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 409)
      return {
        ok: false,
        text:
          cas === 0
            ? `Not saved: ${key} already exists. Open it from the list to edit it.`
            : `Not saved: ${key} was changed by someone else since you opened it. Open it again to see the new value.`,
      };
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

function Editor({ keyName: key, setKey, text, setText, msg, setMsg, exists, base, setBase }: EditorProps) {
  return (
    <form onSubmit={(e) => (e.preventDefault(), void save(key, text, base, setBase).then(setMsg))}>
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

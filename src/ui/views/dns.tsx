// DNS: ask this agent's DNS server a question and see its answer; the query rate by response
// code and the forwarder cache's hit ratio, from the agent's metrics.
import { useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { readOf, useView } from '../hooks.js';

interface Answer {
  rcode: string;
  truncated: boolean;
  answers: { name: string; type: string; ttl: number; data: unknown }[];
  ms: number;
}

/** Sums of the samples of the DNS counters the view shows, from Prometheus text. */
export function dnsCounters(text: string): { byRcode: Record<string, number>; hits: number; misses: number } {
  const byRcode: Record<string, number> = {};
  let hits = 0;
  let misses = 0;
  for (const line of text.split('\n')) {
    const q = /^weft_dns_queries_total\{[^}]*rcode="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (q) byRcode[q[1]!] = (byRcode[q[1]!] ?? 0) + Number(q[2]);
    else if (line.startsWith('weft_dns_cache_hits_total ')) hits = Number(line.split(' ')[1]);
    else if (line.startsWith('weft_dns_cache_misses_total ')) misses = Number(line.split(' ')[1]);
  }
  return { byRcode, hits, misses };
}

function useRates(text: string | undefined) {
  const prev = useRef<{ at: number; c: ReturnType<typeof dnsCounters> } | undefined>(undefined);
  const rates = useRef<Record<string, number>>({});
  const c = dnsCounters(text ?? '');
  const now = performance.now();
  if (text !== undefined && (!prev.current || now - prev.current.at > 500)) {
    if (prev.current) {
      const dt = (now - prev.current.at) / 1000;
      rates.current = Object.fromEntries(
        Object.entries(c.byRcode).map(([k, n]) => [k, Math.max(0, (n - (prev.current!.c.byRcode[k] ?? 0)) / dt)]),
      );
    }
    prev.current = { at: now, c };
  }
  return { c, rates: rates.current };
}

export function Dns() {
  const v = useView('dns');
  const m = readOf<string>(v, '/metrics');
  const { c, rates } = useRates(m.body);
  const total = c.hits + c.misses;
  return (
    <section aria-labelledby="h-dns">
      <h2 id="h-dns">DNS</h2>
      <Ask />
      <h2>Queries</h2>
      {m.error && <p class="error">{m.error}</p>}
      <p>
        {Object.keys(c.byRcode).length === 0
          ? 'No queries answered yet.'
          : Object.entries(c.byRcode)
              .map(([k, n]) => `${k}: ${n} (${(rates[k] ?? 0).toFixed(1)}/s)`)
              .join(', ')}
      </p>
      <p>
        Forwarder cache: {total ? `${((100 * c.hits) / total).toFixed(1)} % hits` : 'no forwarded questions yet'} (
        {c.hits} hits, {c.misses} misses)
      </p>
    </section>
  );
}

/** A question to the agent's DNS server, and its answer as the server gave it. */
function Ask() {
  const [name, setName] = useState('');
  const [type, setType] = useState('A');
  const [out, setOut] = useState<{ answer?: Answer; error?: string } | undefined>();
  const ask = async () => {
    try {
      setOut({ answer: await call<Answer>('GET', `/v1/ui/dns?name=${encodeURIComponent(name)}&type=${type}`) });
    } catch (e) {
      setOut({ error: (e as Error).message });
    }
  };
  return (
    <>
      <form class="bar" onSubmit={(e) => (e.preventDefault(), void ask())}>
        <input
          aria-label="name"
          placeholder="web.svc.weft.internal"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <select aria-label="type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
          {['A', 'AAAA', 'SRV', 'TXT', 'PTR', 'CNAME', 'NS', 'SOA', 'MX'].map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        <button type="submit">Query</button>
      </form>
      {out?.error && (
        <p class="error" role="alert">
          {out.error}
        </p>
      )}
      {out?.answer && <AnswerTable a={out.answer} />}
    </>
  );
}

function AnswerTable({ a }: { a: Answer }) {
  return (
    <div data-dns-answer>
      <p>
        {a.rcode}
        {a.truncated && ' (truncated)'}, {a.answers.length} answers in {a.ms} ms
      </p>
      <table>
        <tbody>
          {a.answers.map((x, i) => (
            <tr key={i}>
              <td>{x.name}</td>
              <td>{x.type}</td>
              <td>{x.ttl}</td>
              <td>{typeof x.data === 'string' ? x.data : JSON.stringify(x.data)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

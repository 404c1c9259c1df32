// The event queue runs events in (time, scheduling order), whatever the mix of pushes,
// pops and cancellations: a run is a pure function of its seed only if it does.
import t from 'tap';
import { Scheduler } from './scheduler.js';

t.test('events run by time, then in the order they were scheduled, cancelled ones never', async (t) => {
  let s = 7;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let run = 0; run < 20; run++) {
    const sched = new Scheduler();
    const ran: number[] = [];
    const want: { at: number; seq: number; cancelled: boolean }[] = [];
    let seq = 0;
    const add = (at: number) => {
      const id = seq++;
      const ev = sched.at(at, () => ran.push(id));
      const w = { at: Math.max(at, sched.now), seq: id, cancelled: false };
      want.push(w);
      if (rand() < 0.1) ev.cancelled = w.cancelled = true;
      return w;
    };
    // Few distinct times, so ties are common; events added while others run.
    for (let i = 0; i < 500; i++) add(Math.floor(rand() * 50));
    for (let i = 0; i < 300; i++) {
      sched.step();
      if (rand() < 0.5) add(sched.now + Math.floor(rand() * 10));
    }
    sched.runUntil(Infinity);
    const order = want
      .filter((w) => !w.cancelled)
      .sort((a, b) => a.at - b.at || a.seq - b.seq)
      .map((w) => w.seq);
    t.same(ran, order, `run ${run}`);
  }
});

t.test('the same when events schedule events, through partial runs and long quiet spells', async (t) => {
  let s = 11;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  // Delays of a fraction of a millisecond, of tens and hundreds, and quiet spells of seconds.
  const delay = () => {
    const r = rand();
    if (r < 0.3) return rand() * 0.1;
    if (r < 0.8) return rand() * 20;
    if (r < 0.95) return 50 + rand() * 200;
    return 1000 + rand() * 5000;
  };
  for (let run = 0; run < 20; run++) {
    const sched = new Scheduler();
    const ran: { at: number; seq: number }[] = [];
    const queued: { at: number; seq: number; cancelled: boolean }[] = [];
    let seq = 0;
    const add = (at: number) => {
      const id = seq++;
      const when = Math.max(at, sched.now);
      const ev = sched.at(at, () => {
        ran.push({ at: when, seq: id });
        // Events that schedule others, as packets and timers do.
        if (rand() < 0.6) add(sched.now + delay());
        if (rand() < 0.1) add(sched.now);
      });
      const q = { at: when, seq: id, cancelled: false };
      queued.push(q);
      if (rand() < 0.1) ev.cancelled = q.cancelled = true;
    };
    for (let i = 0; i < 200; i++) add(delay());
    // Stop and go: up to times between events, the queue's next event peeked at each stop.
    while (sched.pending > 0 && ran.length < 3000) {
      const until = sched.now + rand() * 30;
      if (rand() < 0.3) add(until); // due at the very end of the run: it runs in it
      sched.runUntil(until);
      if (rand() < 0.3) add(sched.now + rand() * 0.05);
    }
    // Every event due by now ran, once, by time and then scheduling order; none cancelled.
    const due = queued
      .filter((q) => !q.cancelled && q.at <= sched.now)
      .sort((a, b) => a.at - b.at || a.seq - b.seq)
      .map((q) => q.seq);
    t.ok(ran.length > 500, `run ${run}: ${ran.length} events ran`);
    t.same(
      ran.map((r) => r.seq),
      due,
      `run ${run}: every event due, in order`,
    );
  }
});

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

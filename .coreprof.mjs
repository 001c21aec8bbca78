import { TraceBuffer } from '@tracebuf/core';
const mk = (clock) => TraceBuffer.create({ cpus: 1, nrSubbufs: 1024, overwrite: true, clock }).producer();
const variants = {};
for (const clock of ['local', 'mono', 'counter']) {
  const p = mk(clock);
  for (const len of [4, 100]) {
    const payload = new Uint8Array(len);
    variants[`${clock} write ${len}`] = () => p.write(payload);
  }
  const q = mk(clock);
  variants[`${clock} reserve/commit 100`] = () => { const r = q.reserve(100); q.commit(); };
}
const N = 3_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  for (let i = 0; i < 200000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(28), ns.toFixed(1), 'ns');
}

import { Worker } from 'node:worker_threads';
import { SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, layout } from '@tracebuf/core';
const clock = process.argv[2] ?? 'counter';
const variants = (process.argv[3] ?? 'none,minimal,ioctl+walk').split(',');
const EVENTS = 4_000_000;
const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 256, overwrite: true, clock, readerPaceNs: Number(process.env.PACE ?? 2000) });
const control = new SharedArrayBuffer(8);
const words = new Int32Array(control);
const worker = new Worker(new URL('../dist/consumer-slowdown-producer.js', import.meta.url), { workerData: { handle: tb.handle, control, events: EVENTS } });
let round = 0;
for (const v of [...variants, ...variants]) {
  round++;
  const rate = new Promise((r) => worker.once('message', r));
  Atomics.store(words, 0, round); Atomics.notify(words, 0);
  let polls = 0, events = 0;
  const producing = () => Atomics.load(words, 1) !== round;
  if (v === 'none') { await rate; }
  else if (v === 'minimal') {
    // Reads only the tail's commit word and the new event headers (no protocol at all).
    const cb = tb.cpuBuffer(0); const i32 = cb.i32; let tail = -1, read = 0;
    const gap = Number(process.env.GAP_NS ?? 0); let sink = 0;
    while (producing()) {
      polls++;
      if (gap) { const t0 = performance.now(); while ((performance.now() - t0) * 1e6 < gap) sink++; }
      const t = Atomics.load(cb.ctl, layout.TAIL_PAGE_INDEX);
      if (t !== tail) { tail = t; read = 0; }
      const base = cb.subbufOffset(t);
      const commit = Atomics.load(i32, (base + 8) >> 2) & 0xfffff;
      while (read < commit) { const w = i32[(base + 16 + read) >> 2]; const tl = w & 31; read += tl === 0 ? i32[((base + 16 + read) >> 2) + 1] + 4 : tl >= 29 ? 8 : tl * 4 + 4; events++; }
    }
  } else {
    const m = tb.map(0); const reader = new SubbufReader();
    let lid = m.meta.reader.id, lread = m.meta.reader.read;
    while (producing()) {
      m.ioctl(TRACE_MMAP_IOCTL_GET_READER); polls++;
      const { id, read } = m.meta.reader;
      if (id === lid && read === lread) continue;
      reader.load(m.bytes, m.subbufOffset(id), id === lid ? lread : 0, read); while (reader.next()) events++;
      lid = id; lread = read;
    }
    m.unmap();
  }
  const r = await rate;
  console.log(`${clock} ${v.padEnd(12)} ${r.toFixed(2)} M/s polls ${polls} events ${events}`);
}
Atomics.store(words, 0, -1); Atomics.notify(words, 0); await worker.terminate();

// Producer worker threads write lock-free into their own rings; the main thread consumes every
// CPU's events merged in timestamp order (like `trace_pipe`) and, at exit, drains whatever is left.
//
//   npm run demo (once, to install and build), then: node examples/worker-producers.mjs
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';

if (isMainThread) {
  const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 32, overwrite: false });
  const workers = [0, 1].map(
    (cpu) => new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, cpu, events: 10_000 } }),
  );
  const finished = Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));

  const ac = new AbortController();
  void finished.then(() => setTimeout(() => ac.abort(), 50));
  const perCpu = [0, 0];
  let last = 0;
  let outOfOrder = 0;
  for await (const e of tb.consume({ signal: ac.signal })) {
    perCpu[e.cpu]++;
    if (e.timestamp < last) outOfOrder++;
    last = e.timestamp;
  }
  const leftover = tb.drainTo(() => undefined);
  const written = await finished;
  console.log(`producers wrote ${written.map((w) => w.written).join(' + ')} events (dropped ${written.map((w) => w.dropped).join(' + ')})`);
  console.log(`consumed ${perCpu[0]} from cpu 0 and ${perCpu[1]} from cpu 1 in timestamp order (${outOfOrder} later-arriving out of order), ${leftover} drained at the end`);
  for (const cpu of [0, 1]) console.log(`cpu ${cpu}:`, tb.stats(cpu));
  await Promise.all(workers.map((w) => w.terminate()));
} else {
  const { handle, cpu, events } = workerData;
  const p = TraceBuffer.attach(handle).producer(cpu);
  const encoder = new TextEncoder();
  let written = 0;
  let dropped = 0;
  for (let i = 0; i < events; i++) {
    const payload = encoder.encode(`worker ${cpu} step ${i}`);
    // Producer/consumer mode: a full ring drops the newest event; retry a little, then count it.
    let ok = p.write(payload);
    for (let tries = 0; !ok && tries < 1000; tries++) ok = p.write(payload);
    if (ok) written++;
    else dropped++;
  }
  p.release();
  parentPort.postMessage({ written, dropped });
}

import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';
const stmt = (log, i) => log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
if (isMainThread) {
  const lines = +(process.env.LINES ?? 200000);
  for (let rep = 0; rep < 3; rep++) {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: Math.max(1024, Math.ceil((lines * 200) / 4096)), overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 30 });
    const consumer = new LogConsumer(tb, { destination: '/dev/null' });
    const t0 = performance.now();
    const w = new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, lines } });
    let tStart = 0, tEnd = 0, finished = false, drainMs = 0, drains = 0;
    w.on('message', (m) => { if (m.started) tStart = performance.now(); else { tEnd = performance.now(); finished = true; } });
    if (process.env.SLEEP) {
      for (;;) { const d0 = performance.now(); const n = consumer.drain(); drainMs += performance.now() - d0; if (n) drains++; if (finished) break; await new Promise((r) => setTimeout(r, +process.env.SLEEP)); }
    } else if (process.env.RUN) {
      const ac = new AbortController();
      w.once('message', () => w.once('message', () => ac.abort()));
      await consumer.run({ signal: ac.signal, bufferPercent: +(process.env.BP ?? 0) });
    } else for (;;) { const d0 = performance.now(); const n = consumer.drain(); drainMs += performance.now() - d0; if (n) drains++; if (finished) break; await new Promise((r) => setImmediate(r)); }
    consumer.close();
    const t1 = performance.now();
    console.log(`total ${(t1 - t0).toFixed(0)} ms: worker up ${(tStart - t0).toFixed(0)}, producing ${(tEnd - tStart).toFixed(0)}, after ${(t1 - tEnd).toFixed(0)}; drain time ${drainMs.toFixed(0)} ms in ${drains} drains; ${(lines / (t1 - t0) * 1000 / 1000).toFixed(0)}k lines/s`);
    await w.terminate();
  }
} else {
  const log = createLogger(TraceBuffer.attach(workerData.handle)).child({ component: 'bench' });
  parentPort.postMessage({ started: true });
  for (let i = 0; i < workerData.lines; i++) stmt(log, i);
  parentPort.postMessage({ done: true });
}

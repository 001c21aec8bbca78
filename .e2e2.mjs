import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';
const stmt = (log, i) => log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
if (isMainThread) {
  const lines = +(process.env.LINES ?? 1000000);
  for (let rep = 0; rep < 2; rep++) {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: Math.max(1024, Math.ceil((lines * 200) / 4096)), overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 30 });
    const w = new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, lines } });
    const m = await new Promise((r) => w.once('message', r));
    console.log('producer alone in a worker:', (m.ms * 1e6 / lines).toFixed(0), 'ns/call');
    await w.terminate();
  }
} else {
  const log = createLogger(TraceBuffer.attach(workerData.handle)).child({ component: 'bench' });
  const t = performance.now();
  for (let i = 0; i < workerData.lines; i++) stmt(log, i);
  parentPort.postMessage({ ms: performance.now() - t });
}

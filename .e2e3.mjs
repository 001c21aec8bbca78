import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { createLogger } from '@tracebuf/log';
const stmt = (log, i) => log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
if (isMainThread) {
  const lines = 1000000;
  for (const mode of ['idle', 'spin', 'idle', 'spin']) {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: Math.ceil((lines * 200) / 4096), overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 30 });
    const w = new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, lines } });
    let got;
    w.once('message', (m) => (got = m));
    if (mode === 'spin') { let x = 0; while (got === undefined) { for (let i = 0; i < 1e5; i++) x = (x * 31 + i) | 0; await new Promise((r) => setImmediate(r)); } }
    else while (got === undefined) await new Promise((r) => setTimeout(r, 5));
    console.log(mode, (got.ms * 1e6 / lines).toFixed(0), 'ns/call');
    await w.terminate();
  }
} else {
  const log = createLogger(TraceBuffer.attach(workerData.handle)).child({ component: 'bench' });
  const t = performance.now();
  for (let i = 0; i < workerData.lines; i++) stmt(log, i);
  parentPort.postMessage({ ms: performance.now() - t });
}

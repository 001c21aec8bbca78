import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';
const stmt = (log, i) => log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
if (isMainThread) {
  const lines = 1000000;
  for (let rep = 0; rep < 3; rep++) {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: Math.ceil((lines * 200) / 4096), overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 30 });
    const consumer = new LogConsumer(tb, { destination: process.env.DEST ?? '/dev/null' });
    const w = new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, lines } });
    await new Promise((r) => w.once('message', r));
    const t = performance.now();
    const n = consumer.drain();
    console.log('consumer after the producer finished:', ((performance.now() - t) * 1e6 / n).toFixed(0), 'ns/line');
    consumer.close();
    await w.terminate();
  }
} else {
  const log = createLogger(TraceBuffer.attach(workerData.handle)).child({ component: 'bench' });
  for (let i = 0; i < workerData.lines; i++) stmt(log, i);
  parentPort.postMessage({});
}

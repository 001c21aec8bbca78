import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { TraceBuffer, Mapping } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';
const stmt = (log, i) => log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
if (isMainThread) {
  const orig = Mapping.prototype.ioctl;
  let calls = 0, ns = 0n;
  Mapping.prototype.ioctl = function (cmd) { const t = process.hrtime.bigint(); const r = orig.call(this, cmd); ns += process.hrtime.bigint() - t; calls++; return r; };
  const lines = 1000000;
  for (const same of [false, true, false, true]) {
    calls = 0; ns = 0n;
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: Math.ceil((lines * 200) / 4096), overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 30 });
    const consumer = new LogConsumer(tb, { destination: '/dev/null' });
    let w;
    if (same) { const log = createLogger(tb).child({ component: 'bench' }); for (let i = 0; i < lines; i++) stmt(log, i); }
    else { w = new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, lines } }); await new Promise((r) => w.once('message', r)); }
    const t = performance.now();
    const n = consumer.drain();
    const ms = performance.now() - t;
    console.log(same ? 'same thread ' : 'other thread', (ms * 1e6 / n).toFixed(0), 'ns/line;', calls, 'GET_READER calls,', (Number(ns) / calls).toFixed(0), 'ns each =', (Number(ns) / n).toFixed(0), 'ns/line');
    consumer.close();
    await w?.terminate();
  }
} else {
  const log = createLogger(TraceBuffer.attach(workerData.handle)).child({ component: 'bench' });
  for (let i = 0; i < workerData.lines; i++) stmt(log, i);
  parentPort.postMessage({});
}

import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';
const lines = 400000;
const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: Math.ceil((lines * 200) / 4096), overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 30 });
const log = createLogger(tb).child({ component: 'bench' });
const consumer = new LogConsumer(tb, { destination: '/dev/null' });
for (let rep = 0; rep < 3; rep++) {
  for (let i = 0; i < lines; i++) log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
  const t = performance.now();
  const n = consumer.drain();
  const ms = performance.now() - t;
  console.log(n, 'lines', (ms * 1e6 / n).toFixed(0), 'ns/line');
}

// High-throughput logging with @tracebuf/log: the main thread and three worker threads log into
// one buffer (a ring each); one consumer, here in the main thread, writes one ordered stream of
// pino-compatible NDJSON. Pipe it through pino-pretty if you like:
//
//   npm run -s build && node examples/logging.mjs | npx pino-pretty
//
// This one file is both the main program and the workers' code.
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';

if (isMainThread) {
  // 'local' is the cheap clock (a few ns per record); log times are epoch ms either way.
  const tb = TraceBuffer.create({ cpus: 4, nrSubbufs: 256, overwrite: false, clock: 'local' });
  const consumer = new LogConsumer(tb).installExitDrain(); // stdout; drains once more at exit
  const ac = new AbortController();
  const running = consumer.run({ signal: ac.signal });

  const log = createLogger(tb, { name: 'example' });
  log.info({ workers: 3 }, 'starting %d workers', 3);
  const workers = [1, 2, 3].map((n) => new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, n } }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  log.warn({ lost: consumer.stats.lost }, 'all workers done');

  ac.abort();
  await running;
  consumer.close();
  console.error(`${consumer.stats.lines} lines, ${consumer.stats.lost} lost`);
} else {
  const log = createLogger(TraceBuffer.attach(workerData.handle), { name: 'example' }).child({ worker: workerData.n });
  for (let i = 0; i < 5; i++) log.info({ request: i, ms: i * 1.5 }, 'request %d handled by %s', i, `worker ${workerData.n}`);
  log.error(new Error(`worker ${workerData.n} saw a simulated failure`));
}

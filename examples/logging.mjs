// High-throughput logging with @tracebuf/log: the main thread and three worker threads log into
// one buffer (a ring each); one consumer, here in the main thread, writes one ordered stream of
// pino-compatible NDJSON. The buffer starts with two cpu slots: threads beyond them get slots
// the buffer brings online (up to `maxCpus`), which the consumer reads as the others.
// Pipe it through pino-pretty if you like:
//
//   npm run -s build && node examples/logging.mjs | npx pino-pretty
//
// This one file is both the main program and the workers' code.
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';

if (isMainThread) {
  // 'local' is the cheap clock (a few ns per record); log times are epoch ms either way.
  const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 256, overwrite: false, clock: 'local' });
  const consumer = new LogConsumer(tb).installExitDrain(); // stdout; drains once more at exit
  const ac = new AbortController();
  const running = consumer.run({ signal: ac.signal });

  const log = createLogger(tb, { name: 'example' });
  log.info({ workers: 3 }, 'starting %d workers', 3);
  // The workers stay until all three have logged, so that they hold their slots at the same time.
  const together = new Int32Array(new SharedArrayBuffer(4));
  const workers = [1, 2, 3].map((n) => new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, n, together } }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  log.warn({ lost: consumer.stats.lost }, 'all workers done');

  ac.abort();
  await running;
  consumer.close();
  console.error(`${consumer.stats.lines} lines, ${consumer.stats.lost} lost; cpu slots: ${tb.config.cpus} at the start, ${tb.cpus} online at the end`);
} else {
  const log = createLogger(TraceBuffer.attach(workerData.handle), { name: 'example' }).child({ worker: workerData.n });
  for (let i = 0; i < 5; i++) log.info({ request: i, ms: i * 1.5 }, 'request %d handled by %s', i, `worker ${workerData.n}`);
  log.error(new Error(`worker ${workerData.n} saw a simulated failure`));
  const { together } = workerData;
  Atomics.add(together, 0, 1);
  Atomics.notify(together, 0);
  for (let seen; (seen = Atomics.load(together, 0)) < 3; ) Atomics.wait(together, 0, seen, 5000);
}

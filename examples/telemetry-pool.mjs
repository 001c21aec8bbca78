// Worker telemetry with @tracebuf/telemetry: a piscina pool serves simulated requests; each pool
// thread records a request counter, a queue-depth gauge, a latency histogram and a span per
// request into its own ring; the main thread aggregates live — one summary line per interval,
// with per-worker latency percentiles — and writes the spans as a Chrome trace (open it in
// ui.perfetto.dev).
//
//   npm run -s build && node examples/telemetry-pool.mjs
//
// This one file is both the main program and the pool's task file.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { TraceBuffer } from '@tracebuf/core';
import { createProducerPool, poolBuffer, poolProducer } from '@tracebuf/node/piscina';
import { TelemetryAggregator, metrics } from '@tracebuf/telemetry';

// ---------------------------------------------------------------------------------------------
// Task (runs in the pool's threads): one simulated request.
// ---------------------------------------------------------------------------------------------

export default function handle({ id, workUs }) {
  const m = metrics(poolBuffer(), poolProducer());
  m.begin('request');
  const started = process.hrtime.bigint();
  let x = 0;
  while (Number(process.hrtime.bigint() - started) < workUs * 1000) x += Math.sqrt(x + id);
  m.histogram('latency_us').record(Math.round(Number(process.hrtime.bigint() - started) / 1000));
  m.counter('requests').add();
  m.gauge('last_request_id').set(id);
  m.end('request');
  return x > 0;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

if (isMainThread) {
  const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 64, overwrite: false, clock: 'local' });
  const pool = createProducerPool({ tb, filename: fileURLToPath(import.meta.url), maxThreads: 2 });
  const aggregator = new TelemetryAggregator(tb);
  const ac = new AbortController();
  const names = new Map();
  const running = aggregator.run({
    signal: ac.signal,
    everyMs: 250,
    onInterval: (s) => {
      const l = s.histograms.latency_us;
      if (l === undefined) return;
      const threads = tb.events.threads();
      for (const pid of Object.keys(s.histogramsByThread.latency_us ?? {})) names.set(pid, threads.get(Number(pid)) ?? pid);
      const perWorker = Object.entries(s.histogramsByThread.latency_us ?? {})
        .map(([pid, h]) => `${names.get(pid)} p50 ${h.p50.toFixed(0)} p99 ${h.p99.toFixed(0)}`)
        .join(', ');
      console.log(`${s.counters.requests?.perSecond.toFixed(0) ?? 0} req/s, latency µs p50 ${l.p50.toFixed(0)} p99 ${l.p99.toFixed(0)} max ${l.max} (${perWorker})`);
    },
  });
  await Promise.all(Array.from({ length: 400 }, (_, id) => pool.run({ id, workUs: 200 + (id % 7) * 150 })));
  await pool.destroy();
  ac.abort();
  await running;
  const total = aggregator.total();
  console.log(`total: ${total.counters.requests.total} requests, latency µs mean ${total.histograms.latency_us.mean.toFixed(0)} p99 ${total.histograms.latency_us.p99.toFixed(0)}, ${total.lost} lost`);
  const file = join(tmpdir(), 'tracebuf-telemetry.json');
  writeFileSync(file, JSON.stringify(aggregator.toChromeTrace()));
  console.log(`spans: ${file}`);
  aggregator.close();
}

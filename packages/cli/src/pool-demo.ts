/**
 * `tracebuf demo`: the uses tracebuf exists for, together. A piscina pool of workers serves
 * simulated requests; each logs with `@tracebuf/log` into one buffer and records telemetry with
 * `@tracebuf/telemetry` into another; the main thread consumes both — pino NDJSON to a file, live
 * aggregates — prints a progress line each second (events/s, lost counts) and a summary, and
 * writes the spans as a Chrome trace.
 *
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer } from '@tracebuf/log';
import { createProducerPool } from '@tracebuf/node/piscina';
import { TelemetryAggregator } from '@tracebuf/telemetry';

/** Options of {@link runPoolDemo}. */
export interface PoolDemoOptions {
  readonly requests?: number;
  readonly workers?: number;
  /** Where the NDJSON log and the Chrome trace go. */
  readonly out?: string;
  readonly print?: (line: string) => void;
  readonly progress?: (line: string) => void;
}

/** What the demo did. */
export interface PoolDemoResult {
  readonly requests: number;
  readonly logLines: number;
  readonly logLost: number;
  readonly metricRecords: number;
  readonly metricLost: number;
  readonly servedCounted: number;
  readonly logFile: string;
  readonly traceFile: string;
}

/** Runs the demo. */
export async function runPoolDemo(options: PoolDemoOptions = {}): Promise<PoolDemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const progress = options.progress ?? print;
  const requests = options.requests ?? 20_000;
  const workers = options.workers ?? 2;
  const out = resolve(options.out ?? 'tracebuf-demo');
  mkdirSync(out, { recursive: true });
  const logFile = join(out, 'demo.ndjson');
  const traceFile = join(out, 'demo-trace.json');
  writeFileSync(logFile, '');

  // Two buffers: a consumer takes what it reads, so each stream has its own.
  const logs = TraceBuffer.create({ cpus: workers, nrSubbufs: 256, overwrite: false, clock: 'local' });
  const telemetry = TraceBuffer.create({ cpus: workers, nrSubbufs: 256, overwrite: false, clock: 'local' });
  print(`logs: ${logs}; telemetry: ${telemetry}; ${workers} pool threads, ${requests} requests`);
  const logConsumer = new LogConsumer(logs, { destination: logFile }).installExitDrain();
  const aggregator = new TelemetryAggregator(telemetry);
  const pool = createProducerPool({
    tb: telemetry,
    filename: fileURLToPath(new URL('./demo-task.js', import.meta.url)),
    maxThreads: workers,
    minThreads: workers,
    workerData: { logs: logs.handle },
  });
  const started = performance.now();
  const ac = new AbortController();
  let metricRecords = 0;
  const consume = (async () => {
    let lastLines = 0;
    let lastRecords = 0;
    let lastTime = performance.now();
    while (!ac.signal.aborted) {
      logConsumer.drain();
      metricRecords += aggregator.drain();
      const now = performance.now();
      if (now - lastTime >= 1000) {
        const s = aggregator.interval();
        const secs = (now - lastTime) / 1000;
        const lines = logConsumer.stats.lines;
        const l = s.histograms.latency_us;
        progress(
          `${((now - started) / 1000).toFixed(0)} s: ${((lines - lastLines) / secs).toFixed(0)} log lines/s, ` +
            `${((metricRecords - lastRecords) / secs).toFixed(0)} metric records/s, ${s.counters.requests?.perSecond.toFixed(0) ?? 0} requests/s, ` +
            `latency µs p50 ${l?.p50.toFixed(0) ?? '-'} p99 ${l?.p99.toFixed(0) ?? '-'}, lost ${logConsumer.stats.lost} logs / ${aggregator.total().lost} metrics`,
        );
        lastLines = lines;
        lastRecords = metricRecords;
        lastTime = now;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await Promise.all(Array.from({ length: requests }, (_, id) => pool.run({ id, workUs: 50 + (id % 5) * 50 })));
  await pool.destroy();
  ac.abort();
  await consume;
  logConsumer.close();
  metricRecords += aggregator.drain();
  const total = aggregator.total();
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(traceFile, JSON.stringify(aggregator.toChromeTrace()));
  aggregator.close();
  const l = total.histograms.latency_us!;
  print(`served ${requests} requests in ${seconds.toFixed(2)} s on ${workers} threads`);
  print(`logs: ${logConsumer.stats.lines} lines to ${logFile} (${logConsumer.stats.lost} lost)`);
  print(`telemetry: ${metricRecords} records (${total.lost} lost); latency µs mean ${l.mean.toFixed(0)} p50 ${l.p50.toFixed(0)} p99 ${l.p99.toFixed(0)} max ${l.max}`);
  const threads = telemetry.events.threads();
  for (const [pid, h] of Object.entries(total.histogramsByThread.latency_us ?? {})) {
    print(`  ${threads.get(Number(pid)) ?? pid}: ${h.count} requests, p50 ${h.p50.toFixed(0)} p99 ${h.p99.toFixed(0)} µs`);
  }
  print(`spans: ${traceFile} (Chrome trace JSON: ui.perfetto.dev opens it)`);
  const servedCounted = total.counters.requests?.total ?? 0;
  const ok = logConsumer.stats.lines === requests && servedCounted === requests;
  print(`check: log lines ${logConsumer.stats.lines} = requests counted ${servedCounted} = requests ${requests}: ${ok ? 'ok' : 'MISMATCH'}`);
  return { requests, logLines: logConsumer.stats.lines, logLost: logConsumer.stats.lost, metricRecords, metricLost: total.lost, servedCounted, logFile, traceFile };
}

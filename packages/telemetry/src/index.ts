/**
 * `@tracebuf/telemetry`: counters, gauges, histograms and spans from worker threads as tracebuf
 * typed events; a consumer aggregates them live (per-interval summaries, per-thread histograms)
 * and exports spans as Chrome trace JSON. Benchmark suites run in workers stream every sample
 * through the ring; the main thread builds tinybench's statistics.
 *
 * ```ts
 * const m = metrics(tb);                       // in any thread (TraceBuffer.attach there)
 * const latency = m.histogram('latency_us');
 * latency.record(123);
 * const agg = new TelemetryAggregator(tb);     // in one thread
 * await agg.run({ signal, onInterval: (s) => console.log(s.histograms) });
 * ```
 *
 * @packageDocumentation
 */
export { MetricEvent, MetricKind, Metrics, metrics } from './metrics.js';
export type { Counter, Gauge, Histogram } from './metrics.js';
export { HistogramData, TelemetryAggregator, quantileSorted } from './aggregate.js';
export type { AggregatorOptions, HistogramSummary, TelemetryRecord, TelemetrySummary } from './aggregate.js';
export { BENCH_PREFIX, benchRows, formatBenchTable, isBenchMetric, streamBench, tinybenchRows } from './bench.js';
export type { BenchRow } from './bench.js';

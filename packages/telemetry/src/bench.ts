/**
 * Benchmark suites across workers: tinybench runs in the worker threads (a piscina pool, or any
 * workers), every latency sample goes through the ring as a histogram record (picoseconds), and
 * the main thread builds the statistics tinybench reports — samples, mean, p50, p99 — from them,
 * without a message per sample.
 *
 * @packageDocumentation
 */
import type { Producer, TraceBuffer } from '@tracebuf/core';
import type { Bench, Task } from 'tinybench';
import { type TelemetryAggregator, quantileSorted } from './aggregate.js';
import { metrics } from './metrics.js';

/** Histograms of benchmark samples are named `bench:<task name>`. */
export const BENCH_PREFIX = 'bench:';

/** One row of the table: what tinybench reports for a task, in ns. */
export interface BenchRow {
  readonly task: string;
  readonly samples: number;
  readonly meanNs: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
}

/**
 * In a worker: writes every latency sample of each task of `bench` into `tb` as it completes
 * (tinybench's `cycle` event), as histogram `bench:<task>` in picoseconds. Give the Bench
 * `retainSamples: true`. In a piscina pool thread pass `poolProducer()`. Returns a function that
 * stops listening.
 */
export function streamBench(bench: Bench, tb: TraceBuffer, producer?: Producer): () => void {
  const m = metrics(tb, producer);
  const onCycle = (event: Event): void => {
    const task = (event as Event & { task?: Task }).task;
    const samples = task?.result.state === 'completed' ? task.result.latency.samples : undefined;
    if (task === undefined || samples === undefined) return;
    const h = m.histogram(`${BENCH_PREFIX}${task.name}`);
    for (const ms of samples) h.record(Math.round(ms * 1e9));
  };
  bench.addEventListener('cycle', onCycle);
  return () => bench.removeEventListener('cycle', onCycle);
}

/** Keeps every sample of the benchmark histograms (pass to the aggregator's `keepSamples`). */
export function isBenchMetric(name: string): boolean {
  return name.startsWith(BENCH_PREFIX);
}

/**
 * The table from an aggregator that kept the benchmark samples (all workers' samples per task),
 * in the order of `tasks` when given (else as the tasks first appeared).
 */
export function benchRows(aggregator: TelemetryAggregator, tasks?: readonly string[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const name of Object.keys(aggregator.total().histograms)) {
    if (!isBenchMetric(name)) continue;
    const ps = aggregator.samples(name);
    if (ps === undefined || ps.length === 0) continue;
    rows.push(rowOf(name.slice(BENCH_PREFIX.length), Float64Array.from(ps, (v) => v / 1000)));
  }
  if (tasks !== undefined) rows.sort((a, b) => tasks.indexOf(a.task) - tasks.indexOf(b.task));
  return rows;
}

/** The same table from a Bench run in this thread (its own samples, the same statistics). */
export function tinybenchRows(bench: Bench): BenchRow[] {
  return bench.tasks.flatMap((t) => {
    const samples = t.result.state === 'completed' ? t.result.latency.samples : undefined;
    return samples === undefined ? [] : [rowOf(t.name, Float64Array.from(samples, (ms) => Math.round(ms * 1e9) / 1000))];
  });
}

function rowOf(task: string, ns: Float64Array): BenchRow {
  const sorted = ns.sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return { task, samples: sorted.length, meanNs: sum / sorted.length, p50Ns: quantileSorted(sorted, 0.5), p99Ns: quantileSorted(sorted, 0.99) };
}

/** The table as text (tinybench's columns, ns). */
export function formatBenchTable(rows: readonly BenchRow[]): string {
  const head = ['task', 'samples', 'mean ns', 'p50 ns', 'p99 ns'];
  const body = rows.map((r) => [r.task, String(r.samples), r.meanNs.toFixed(1), r.p50Ns.toFixed(1), r.p99Ns.toFixed(1)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

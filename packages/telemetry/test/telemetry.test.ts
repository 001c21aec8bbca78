/**
 * `@tracebuf/telemetry` (issue 10): counters, gauges, histograms and spans recorded from worker
 * threads as typed events and aggregated by a consumer — totals exact, per-thread histograms,
 * percentiles within a bucket's width (or exact when samples are kept), intervals, spans as
 * Chrome trace JSON — and benchmark samples streamed from workers giving the very table
 * tinybench gives in the worker.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { type BenchRow, HistogramData, TelemetryAggregator, benchRows, isBenchMetric, metrics, quantileSorted } from '@tracebuf/telemetry';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

function run<T>(file: string, data: unknown): Promise<T> {
  const w = new Worker(join(here, 'fixtures', file), { workerData: data });
  workers.add(w);
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('metrics from workers, aggregated', () => {
  it('totals, gauges, per-thread histograms and spans', async () => {
    const tb = TraceBuffer.create({ cpus: 3, nrSubbufs: 64, overwrite: false, clock: 'local' });
    const agg = new TelemetryAggregator(tb);
    const count = 500;
    const results = await Promise.all([0, 1].map((index) => run<{ dropped: number }>('metrics-worker.mjs', { handle: tb.handle, index, count })));
    expect(results.map((r) => r.dropped)).toEqual([0, 0]);
    expect(agg.drain()).toBe(2 * count * 5);
    const total = agg.total();
    expect(total.counters.requests!.total).toBe(2 * count * 2);
    expect(total.gauges.depth).toBe(count - 1);
    const latency = total.histograms.latency_ns!;
    expect([latency.count, latency.min, latency.max]).toEqual([2 * count, 1000, 2000 + count - 1]);
    expect(latency.sum).toBe(count * 1000 + count * 2000 + 2 * ((count * (count - 1)) / 2));
    const perThread = Object.values(total.histogramsByThread.latency_ns!);
    expect(perThread.map((h) => h.min).sort()).toEqual([1000, 2000]);
    expect(perThread.every((h) => h.count === count)).toBe(true);
    // Spans: a B and an E per request per thread, in order.
    const trace = agg.toChromeTrace();
    const spans = trace.traceEvents.filter((e) => e.ph === 'B' || e.ph === 'E');
    expect(spans).toHaveLength(2 * 2 * count);
    for (const tid of new Set(spans.map((e) => e.tid))) {
      const mine = spans.filter((e) => e.tid === tid).map((e) => e.ph);
      expect(mine.join('')).toBe('BE'.repeat(count));
    }
    expect(trace.traceEvents.filter((e) => e.ph === 'M')).toHaveLength(2);
    agg.close();
  });

  it('threads beyond the slots: metrics() brings a slot online; the aggregator made before reads it', async () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 64, overwrite: false, clock: 'local' });
    const agg = new TelemetryAggregator(tb);
    metrics(tb).counter('requests').add(1); // this thread takes the only slot
    const count = 300;
    const results = await Promise.all([0, 1].map((index) => run<{ dropped: number }>('metrics-worker.mjs', { handle: tb.handle, index, count })));
    expect(results.map((r) => r.dropped)).toEqual([0, 0]);
    expect(tb.cpus).toBeGreaterThanOrEqual(2);
    expect(agg.drain()).toBe(1 + 2 * count * 5);
    expect(agg.total().counters.requests!.total).toBe(1 + 2 * count * 2);
    expect(Object.keys(agg.total().histogramsByThread.latency_ns!)).toHaveLength(2);
    agg.close();
  });

  it('interval() covers what came since the last call', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const agg = new TelemetryAggregator(tb);
    const m = metrics(tb);
    const c = m.counter('n');
    c.add(3);
    agg.drain();
    expect(agg.interval().counters.n!.total).toBe(3);
    c.add(4);
    agg.drain();
    const second = agg.interval();
    expect(second.counters.n!.total).toBe(4);
    expect(agg.total().counters.n!.total).toBe(7);
    expect(agg.interval().counters.n).toBeUndefined();
    agg.close();
  });

  it('lost records are counted (overwrite mode, a consumer that fell behind)', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4, overwrite: true });
    const agg = new TelemetryAggregator(tb);
    const h = metrics(tb).histogram('x');
    for (let i = 0; i < 5000; i++) h.record(i);
    agg.drain();
    const s = agg.total();
    expect(s.lost).toBeGreaterThan(0);
    expect(s.lost + s.histograms.x!.count).toBe(5000);
    agg.close();
  });
});

describe('histogram percentiles', () => {
  it('from buckets: within 1/16 of the exact value; with samples: exact (seeded)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 300 }), (values) => {
        const buckets = new HistogramData(false);
        const exact = new HistogramData(true);
        for (const v of values) {
          buckets.add(v);
          exact.add(v);
        }
        const sorted = Float64Array.from(values).sort();
        const e = exact.summary();
        expect([e.p50, e.p99]).toEqual([quantileSorted(sorted, 0.5), quantileSorted(sorted, 0.99)]);
        const b = buckets.summary();
        // The bucket of the rank's value, not interpolated: compare with the value at that rank.
        const atRank = (q: number): number => sorted[Math.floor(q * (sorted.length - 1))]!;
        for (const q of [0.5, 0.9] as const) {
          const want = atRank(q);
          const got = q === 0.5 ? b.p50 : b.p90;
          expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.max(1, want / 16));
        }
      }),
      { numRuns: 200, ...(process.env['TRACEBUF_SEED'] ? { seed: Number(process.env['TRACEBUF_SEED']) } : {}) },
    );
  });
});

describe('benchmark suites across workers', () => {
  it("every sample through the ring: the main thread's table equals tinybench's in each worker", async () => {
    // Room for every sample (~28 bytes each; a fast task gives ~100 000 in 15 ms).
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 8192, overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 27 });
    const agg = new TelemetryAggregator(tb, { keepSamples: isBenchMetric, spans: false });
    const tables = await Promise.all([0, 1].map((index) => run<BenchRow[]>('bench-worker.mjs', { handle: tb.handle, index })));
    agg.drain();
    expect(agg.total().lost).toBe(0);
    expect([tb.stats(0).droppedEvents, tb.stats(1).droppedEvents]).toEqual([0, 0]);
    const expected = tables.flat().sort((a, b) => a.task.localeCompare(b.task));
    const got = benchRows(agg).sort((a, b) => a.task.localeCompare(b.task));
    expect(got.map((r) => r.task)).toEqual(expected.map((r) => r.task));
    for (const [i, row] of got.entries()) {
      const want = expected[i]!;
      expect(row.samples).toBe(want.samples);
      expect(row.p50Ns).toBeCloseTo(want.p50Ns, 6);
      expect(row.p99Ns).toBeCloseTo(want.p99Ns, 6);
      expect(row.meanNs).toBeCloseTo(want.meanNs, 3);
    }
    agg.close();
  });
});

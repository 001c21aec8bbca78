/**
 * The consumer side of telemetry: takes the metric records of every ring (GET_READER, merged in
 * time order) and keeps live aggregates — counter totals and rates, the last gauge values,
 * histograms (log-linear buckets, or every sample where asked), per metric and per thread — and
 * the spans, which it can give as Chrome trace-event JSON.
 *
 * @packageDocumentation
 */
import { CpuCursor, type TraceBuffer, earliest, followSlots, layout, waitAny } from '@tracebuf/core';
import { MetricEvent, MetricKind } from './metrics.js';

/** Offsets of the metric record's fields in its payload. */
const [KIND_OFFSET, NAME_OFFSET, VALUE_OFFSET] = MetricEvent.fields.map((f) => f.offset) as [number, number, number];

/** Sub-buckets per power of two: a bucket is at most 1/16 (6.25 %) of its values wide. */
const SUB_BITS = 4;
const SUB = 1 << SUB_BITS;
const BUCKETS = 64 * SUB;

/** Index of the log-linear bucket of `v` (≥ 0). */
function bucketOf(v: number): number {
  if (v < SUB) return Math.max(0, Math.floor(v));
  const e = Math.floor(Math.log2(v));
  const sub = Math.floor(v / 2 ** (e - SUB_BITS)) - SUB;
  return Math.min(BUCKETS - 1, (e - SUB_BITS + 1) * SUB + sub);
}

/** The smallest value of bucket `i`. */
function bucketLow(i: number): number {
  if (i < SUB) return i;
  const e = Math.floor(i / SUB) + SUB_BITS - 1;
  return (SUB + (i % SUB)) * 2 ** (e - SUB_BITS);
}

/** The q-quantile of sorted values, interpolated between neighbours (as tinybench computes it). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** What a histogram says. */
export interface HistogramSummary {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  /** True when the percentiles come from every sample; false: from the buckets (±6.25 %). */
  readonly exact: boolean;
}

/** A histogram: buckets, or every sample. */
export class HistogramData {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  readonly #buckets = new Float64Array(BUCKETS);
  #samples: Float64Array | undefined;

  constructor(keepSamples: boolean) {
    if (keepSamples) this.#samples = new Float64Array(1024);
  }

  add(v: number): void {
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    const s = this.#samples;
    if (s !== undefined) {
      if (this.count > s.length) {
        const bigger = new Float64Array(s.length * 2);
        bigger.set(s);
        this.#samples = bigger;
      }
      this.#samples![this.count - 1] = v;
    } else {
      this.#buckets[bucketOf(v)]!++;
    }
  }

  /** The samples kept (in arrival order), when keeping them. */
  samples(): Float64Array | undefined {
    return this.#samples?.subarray(0, this.count);
  }

  summary(): HistogramSummary {
    const samples = this.samples();
    let quantile: (q: number) => number;
    if (samples !== undefined) {
      const sorted = Float64Array.from(samples).sort();
      quantile = (q) => quantileSorted(sorted, q);
    } else {
      quantile = (q) => {
        // The bucket holding the rank, at its middle, kept within [min, max].
        const rank = q * (this.count - 1);
        let seen = 0;
        for (let i = 0; i < BUCKETS; i++) {
          seen += this.#buckets[i]!;
          if (seen > rank) return Math.min(this.max, Math.max(this.min, i < SUB ? i : (bucketLow(i) + bucketLow(i + 1)) / 2));
        }
        return this.max;
      };
    }
    const empty = this.count === 0;
    return {
      count: this.count,
      sum: this.sum,
      min: empty ? Number.NaN : this.min,
      max: empty ? Number.NaN : this.max,
      mean: empty ? Number.NaN : this.sum / this.count,
      p50: empty ? Number.NaN : quantile(0.5),
      p90: empty ? Number.NaN : quantile(0.9),
      p99: empty ? Number.NaN : quantile(0.99),
      exact: samples !== undefined,
    };
  }
}

/** Aggregates of one stretch of time. */
export interface TelemetrySummary {
  /** Seconds the summary covers. */
  readonly seconds: number;
  /** Counter: total over the stretch and per second. */
  readonly counters: Readonly<Record<string, { readonly total: number; readonly perSecond: number }>>;
  /** Gauge: the last value set. */
  readonly gauges: Readonly<Record<string, number>>;
  /** Histogram, all threads. */
  readonly histograms: Readonly<Record<string, HistogramSummary>>;
  /** Histogram per writing thread: name → pid → summary. */
  readonly histogramsByThread: Readonly<Record<string, Readonly<Record<number, HistogramSummary>>>>;
  /** Records lost before the consumer read them (overwritten), all rings. */
  readonly lost: number;
}

/** Options of {@link TelemetryAggregator}. */
export interface AggregatorOptions {
  /** Histograms that keep every sample (exact percentiles) instead of buckets. Default: none. */
  readonly keepSamples?: (name: string) => boolean;
  /** Keep spans for {@link TelemetryAggregator.toChromeTrace}. Default true. */
  readonly spans?: boolean;
  /** Called with every record as it is aggregated (e.g. an OTLP forwarder's `telemetrySink`). */
  readonly onRecord?: (record: TelemetryRecord) => void;
}

/** One metric record, as {@link AggregatorOptions.onRecord} gets it. */
export interface TelemetryRecord {
  /** A {@link MetricKind} value. */
  readonly kind: number;
  readonly name: string;
  readonly value: number;
  /** Buffer clock. */
  readonly timestamp: number;
  /** The writing thread. */
  readonly pid: number;
}

/** One stretch's state. */
class Window {
  readonly started = performance.now();
  readonly counters = new Map<string, number>();
  readonly histograms = new Map<string, HistogramData>();
  readonly byThread = new Map<string, Map<number, HistogramData>>();
  lost = 0;
}

/** A span or counter sample kept for the Chrome trace. */
interface TraceMark {
  readonly ph: 'B' | 'E' | 'C';
  readonly name: string;
  readonly ts: number;
  readonly tid: number;
  readonly value: number;
}

/**
 * Reads a buffer's metric records and aggregates them. `drain()` takes what is there now;
 * `interval()` returns the summary since the last call (for a per-second line) and starts a new
 * one; `total()` covers everything since the aggregator started.
 */
export class TelemetryAggregator {
  readonly #tb: TraceBuffer;
  readonly #cursors: CpuCursor[] = [];
  readonly #metricId: number;
  readonly #keep: (name: string) => boolean;
  readonly #keepSpans: boolean;
  readonly #onRecord: ((record: TelemetryRecord) => void) | undefined;
  readonly #names = new Map<number, string>();
  readonly #gauges = new Map<string, number>();
  readonly #marks: TraceMark[] = [];
  #total = new Window();
  #window = new Window();
  /** The view records are read through (one per ring memory). */
  #view: DataView = new DataView(new ArrayBuffer(0));
  #viewOf: Uint8Array | undefined;
  #skipped = 0;

  constructor(tb: TraceBuffer, options: AggregatorOptions = {}) {
    this.#tb = tb;
    this.#metricId = MetricEvent.registerIn(tb.events);
    this.#keep = options.keepSamples ?? (() => false);
    this.#keepSpans = options.spans ?? true;
    this.#onRecord = options.onRecord;
    followSlots(tb, this.#cursors, (m) => new CpuCursor(m));
  }

  /** Events in the buffer that were not metric records. */
  get skipped(): number {
    return this.#skipped;
  }

  #name(id: number): string {
    let name = this.#names.get(id);
    if (name === undefined) {
      name = this.#tb.strings.get(id);
      this.#names.set(id, name);
    }
    return name;
  }

  #histogram(map: Map<string, HistogramData>, name: string): HistogramData {
    let h = map.get(name);
    if (h === undefined) {
      h = new HistogramData(this.#keep(name));
      map.set(name, h);
    }
    return h;
  }

  #byThread(w: Window, name: string, pid: number): HistogramData {
    let m = w.byThread.get(name);
    if (m === undefined) {
      m = new Map();
      w.byThread.set(name, m);
    }
    let h = m.get(pid);
    if (h === undefined) {
      h = new HistogramData(this.#keep(name));
      m.set(pid, h);
    }
    return h;
  }

  /** Aggregates every record committed now (merged in time order). Returns how many. */
  drain(): number {
    let n = 0;
    // Slots that came online since (threads beyond the slots there were).
    followSlots(this.#tb, this.#cursors, (m) => new CpuCursor(m));
    for (;;) {
      const best = earliest(this.#cursors);
      if (best === undefined) return n;
      const r = best.reader;
      if (best.lost > 0) {
        this.#total.lost += best.lost;
        this.#window.lost += best.lost;
      }
      best.lost = 0;
      best.has = false;
      if (r.bytes !== this.#viewOf) {
        this.#viewOf = r.bytes;
        this.#view = new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
      }
      const view = this.#view;
      const at = r.payloadOffset;
      if (r.payloadLength < MetricEvent.fixedLength || view.getUint16(at + layout.COMMON_TYPE_OFFSET, true) !== this.#metricId) {
        this.#skipped++;
        continue;
      }
      const kind = r.bytes[at + KIND_OFFSET]!;
      const name = this.#name(view.getUint32(at + NAME_OFFSET, true));
      const value = view.getInt32(at + VALUE_OFFSET + 4, true) * 4294967296 + view.getUint32(at + VALUE_OFFSET, true);
      const pid = view.getInt32(at + layout.COMMON_PID_OFFSET, true);
      n++;
      this.#onRecord?.({ kind, name, value, timestamp: r.timestamp, pid });
      switch (kind) {
        case MetricKind.COUNTER:
          this.#total.counters.set(name, (this.#total.counters.get(name) ?? 0) + value);
          this.#window.counters.set(name, (this.#window.counters.get(name) ?? 0) + value);
          if (this.#keepSpans) this.#marks.push({ ph: 'C', name, ts: r.timestamp, tid: pid, value: this.#total.counters.get(name)! });
          break;
        case MetricKind.GAUGE:
          this.#gauges.set(name, value);
          if (this.#keepSpans) this.#marks.push({ ph: 'C', name, ts: r.timestamp, tid: pid, value });
          break;
        case MetricKind.HISTOGRAM:
          this.#histogram(this.#total.histograms, name).add(value);
          this.#byThread(this.#total, name, pid).add(value);
          this.#histogram(this.#window.histograms, name).add(value);
          this.#byThread(this.#window, name, pid).add(value);
          break;
        case MetricKind.SPAN_BEGIN:
        case MetricKind.SPAN_END:
          if (this.#keepSpans) this.#marks.push({ ph: kind === MetricKind.SPAN_BEGIN ? 'B' : 'E', name, ts: r.timestamp, tid: pid, value: 0 });
          break;
        default:
          this.#skipped++;
      }
    }
  }

  #summary(w: Window): TelemetrySummary {
    const seconds = (performance.now() - w.started) / 1000;
    const histogramsByThread: Record<string, Record<number, HistogramSummary>> = {};
    for (const [name, m] of w.byThread) histogramsByThread[name] = Object.fromEntries([...m].map(([pid, h]) => [pid, h.summary()]));
    return {
      seconds,
      counters: Object.fromEntries([...w.counters].map(([k, v]) => [k, { total: v, perSecond: seconds > 0 ? v / seconds : 0 }])),
      gauges: Object.fromEntries(this.#gauges),
      histograms: Object.fromEntries([...w.histograms].map(([k, h]) => [k, h.summary()])),
      histogramsByThread,
      lost: w.lost,
    };
  }

  /** Everything since the aggregator started (drain first for the latest). */
  total(): TelemetrySummary {
    return this.#summary(this.#total);
  }

  /** What came since the last `interval()` (or the start): a per-second line's worth. Starts a new one. */
  interval(): TelemetrySummary {
    const s = this.#summary(this.#window);
    this.#window = new Window();
    return s;
  }

  /** The samples of histogram `name` (all threads), when it keeps them. */
  samples(name: string): Float64Array | undefined {
    return this.#total.histograms.get(name)?.samples();
  }

  /**
   * Spans (B/E) and counter and gauge values (C) as Chrome trace-event JSON; `ts` in µs for clocks
   * in ns. Thread names come from the buffer's registry.
   */
  toChromeTrace(options: { readonly pid?: number } = {}): { traceEvents: Record<string, unknown>[]; displayTimeUnit: 'ns' } {
    const pid = options.pid ?? 1;
    const scale = this.#tb.config.clock === 'counter' ? 1 : 1e-3;
    const traceEvents: Record<string, unknown>[] = [];
    for (const [tid, name] of this.#tb.events.threads()) traceEvents.push({ name: 'thread_name', ph: 'M', pid, tid, ts: 0, args: { name } });
    for (const m of this.#marks) {
      const base = { name: m.name, cat: 'telemetry', ph: m.ph, ts: m.ts * scale, pid, tid: m.tid };
      traceEvents.push(m.ph === 'C' ? { ...base, args: { value: m.value } } : { ...base, args: {} });
    }
    return { traceEvents, displayTimeUnit: 'ns' };
  }

  /**
   * Drains whenever records arrive until `signal` aborts, calling `onInterval` with
   * {@link interval} every `everyMs` (default 1000).
   */
  async run(options: { readonly signal?: AbortSignal; readonly everyMs?: number; readonly onInterval?: (s: TelemetrySummary) => void } = {}): Promise<void> {
    const every = options.everyMs ?? 1000;
    let next = performance.now() + every;
    while (options.signal?.aborted !== true) {
      this.drain();
      if (performance.now() >= next) {
        next += every;
        options.onInterval?.(this.interval());
      }
      const wait = Math.max(1, Math.min(20, next - performance.now()));
      await waitAny(
        this.#cursors.map((c) => c.mapping),
        { signal: options.signal, timeoutMs: wait },
      );
    }
    this.drain();
  }

  /** Unmaps the rings. */
  close(): void {
    for (const c of this.#cursors) c.mapping.unmap();
  }
}

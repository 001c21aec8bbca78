/**
 * Worker telemetry as typed events: counters, gauges, histograms and spans, recorded from any
 * thread into its ring of a tracebuf buffer (one `tracebuf:metric` event each: kind, the metric
 * name's ID in the buffer's string table, an integer value), and aggregated live by a consumer.
 *
 * @packageDocumentation
 */
import { type Producer, type TraceBuffer, defineEvent } from '@tracebuf/core';

/** What a metric event says. */
export const MetricKind = { COUNTER: 1, GAUGE: 2, HISTOGRAM: 3, SPAN_BEGIN: 4, SPAN_END: 5 } as const;

/** The typed event every metric record is (`name` is a string-table ID; `value` an integer). */
export const MetricEvent = defineEvent('metric', { kind: 'u8', name: 'u32', value: 's64' });

/** A monotonically increasing count. */
export interface Counter {
  /** Adds `n` (default 1; an integer). Returns false when the ring dropped the record. */
  add(n?: number): boolean;
}

/** A value that goes up and down; the aggregate is the last one set. */
export interface Gauge {
  /** Sets the value (an integer: scale it, e.g. to µs or per mille). */
  set(value: number): boolean;
}

/** A distribution: count, sum, min, max and percentiles. */
export interface Histogram {
  /** Records one value (an integer, e.g. a latency in ns or µs). */
  record(value: number): boolean;
}

/** This thread's metric writers for a buffer; `metrics(tb)` returns it. */
export class Metrics {
  readonly #tb: TraceBuffer;
  readonly #producer: Producer;
  /** Records the ring dropped (full in producer/consumer mode, recording off). */
  dropped = 0;

  /** `producer`: the one to write through (default: the thread's shared `tb.threadProducer()`). */
  constructor(tb: TraceBuffer, producer: Producer = tb.threadProducer()) {
    this.#tb = tb;
    this.#producer = producer;
    MetricEvent.registerIn(tb.events);
    tb.events.noteThread();
  }

  #id(name: string): number {
    const id = this.#tb.strings.intern(name);
    if (id < 0) throw new RangeError(`metric name not interned (over 1024 bytes, or the string table is full): name=${JSON.stringify(name.slice(0, 60))}`);
    return id;
  }

  #write(kind: number, id: number, value: number): boolean {
    if (MetricEvent.write(this.#producer, kind, id, value)) return true;
    this.dropped++;
    return false;
  }

  /** A counter named `name` (the name is interned once, here). */
  counter(name: string): Counter {
    const id = this.#id(name);
    return { add: (n = 1) => this.#write(MetricKind.COUNTER, id, n) };
  }

  /** A gauge named `name`. */
  gauge(name: string): Gauge {
    const id = this.#id(name);
    return { set: (value) => this.#write(MetricKind.GAUGE, id, value) };
  }

  /** A histogram named `name`. */
  histogram(name: string): Histogram {
    const id = this.#id(name);
    return { record: (value) => this.#write(MetricKind.HISTOGRAM, id, value) };
  }

  /**
   * Begins a span named `name` on this thread (end it with {@link end}; spans of a thread nest).
   * Its time is the record's timestamp.
   */
  begin(name: string): boolean {
    return this.#write(MetricKind.SPAN_BEGIN, this.#id(name), 0);
  }

  /** Ends the innermost open span named `name` on this thread. */
  end(name: string): boolean {
    return this.#write(MetricKind.SPAN_END, this.#id(name), 0);
  }
}

const perBuffer = new WeakMap<TraceBuffer, Metrics>();

/**
 * This thread's {@link Metrics} for `tb` (made once; it writes through `producer` — in a piscina
 * pool thread, `poolProducer()` — or else the thread's shared `tb.threadProducer()`: `EBUSY` when
 * every slot is taken).
 */
export function metrics(tb: TraceBuffer, producer?: Producer): Metrics {
  let m = perBuffer.get(tb);
  if (m === undefined) {
    m = new Metrics(tb, producer);
    perBuffer.set(tb, m);
  }
  return m;
}

/**
 * `@tracebuf/otlp`: forwards what tracebuf's consumers produce — `@tracebuf/log` lines and
 * `@tracebuf/telemetry` metrics and spans — to an OpenTelemetry collector over OTLP/HTTP, with
 * the official `@opentelemetry` SDK and exporters (batched, retried by the exporters on
 * retryable answers, behind bounded queues whose overflow is counted).
 *
 * ```ts
 * const otlp = new OtlpForwarder({ url: 'http://127.0.0.1:4318', resource: { 'service.name': 'api' } });
 * const logs = new LogConsumer(tb, { destination: otlp.logDestination() });
 * const agg = new TelemetryAggregator(tb2, { onRecord: otlp.telemetrySink(tb2) });
 * ...
 * await otlp.shutdown();   // flushes; otlp.stats() says what was exported, failed, dropped
 * ```
 *
 * @packageDocumentation
 */
import { type Attributes, type Counter, type Gauge, type Histogram, type Meter, type Tracer } from '@opentelemetry/api';
import { type Logger as OtelLogger, SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TraceBuffer } from '@tracebuf/core';
import { MetricKind, type TelemetryRecord } from '@tracebuf/telemetry';

/** Options of {@link OtlpForwarder}. */
export interface OtlpForwarderOptions {
  /** The collector's OTLP/HTTP base URL (`/v1/logs`, `/v1/metrics`, `/v1/traces` are added). Default `http://127.0.0.1:4318`. */
  readonly url?: string;
  /** Resource attributes (`service.name`, ...). */
  readonly resource?: Attributes;
  /** Headers of every request (authentication). */
  readonly headers?: Record<string, string>;
  /** Records (logs, spans) a queue holds before it drops; drops are counted. Default 2048. */
  readonly maxQueueSize?: number;
  /** Records per export request. Default 512. */
  readonly maxExportBatchSize?: number;
  /** ms between scheduled exports (and metric collections). Default 1000. */
  readonly intervalMs?: number;
  /** ms an export may take. Default 10 000. */
  readonly timeoutMs?: number;
}

/** What one signal's pipeline did. */
export interface SignalStats {
  /** Handed to the SDK. */
  readonly emitted: number;
  /** Accepted by the collector. */
  readonly exported: number;
  /** In exports that failed (after the exporter's retries). */
  readonly failed: number;
  /** Dropped by the bounded queue (exact after `flush()`/`shutdown()`). */
  readonly dropped: number;
}

/** Counts what an exporter exported and what failed. */
class Counted {
  exported = 0;
  failed = 0;
  emitted = 0;

  /** Wraps `exporter.export` (whose first argument holds `size(batch)` records). */
  wrap<B, E extends { export(batch: B, cb: (r: { code: number }) => void): void }>(exporter: E, size: (batch: B) => number): E {
    const original = exporter.export.bind(exporter);
    exporter.export = (batch: B, cb: (r: { code: number }) => void): void => {
      original(batch, (result) => {
        // ExportResultCode.SUCCESS is 0.
        if (result.code === 0) this.exported += size(batch);
        else this.failed += size(batch);
        cb(result);
      });
    };
    return exporter;
  }

  stats(): SignalStats {
    return { emitted: this.emitted, exported: this.exported, failed: this.failed, dropped: Math.max(0, this.emitted - this.exported - this.failed) };
  }
}

const SEVERITY: Readonly<Record<number, [SeverityNumber, string]>> = {
  10: [SeverityNumber.TRACE, 'TRACE'],
  20: [SeverityNumber.DEBUG, 'DEBUG'],
  30: [SeverityNumber.INFO, 'INFO'],
  40: [SeverityNumber.WARN, 'WARN'],
  50: [SeverityNumber.ERROR, 'ERROR'],
  60: [SeverityNumber.FATAL, 'FATAL'],
};

/** A pino line's fields as OTel attributes: primitives as they are, anything else as JSON. */
function attributesOf(line: Record<string, unknown>): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(line)) {
    if (k === 'level' || k === 'time' || k === 'msg') continue;
    out[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  }
  return out;
}

/** The instrument named `name` in `map`, made by `create` the first time. */
function instrument<T>(map: Map<string, T>, name: string, create: () => T): T {
  let i = map.get(name);
  if (i === undefined) map.set(name, (i = create()));
  return i;
}

/** Forwards logs, metrics and spans to an OpenTelemetry collector. */
export class OtlpForwarder {
  readonly #logs = new Counted();
  readonly #spans = new Counted();
  readonly #metrics = new Counted();
  readonly #loggerProvider: LoggerProvider;
  readonly #logger: OtelLogger;
  readonly #meterProvider: MeterProvider;
  readonly #meter: Meter;
  readonly #tracerProvider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #counters = new Map<string, Counter>();
  readonly #gauges = new Map<string, Gauge>();
  readonly #histograms = new Map<string, Histogram>();
  #logParseErrors = 0;

  constructor(options: OtlpForwarderOptions = {}) {
    const base = (options.url ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
    const common = { ...(options.headers === undefined ? {} : { headers: options.headers }), timeoutMillis: options.timeoutMs ?? 10_000 };
    const buffer = { maxQueueSize: options.maxQueueSize ?? 2048, maxExportBatchSize: options.maxExportBatchSize ?? 512, scheduledDelayMillis: options.intervalMs ?? 1000 };
    const resource = resourceFromAttributes({ 'service.name': 'tracebuf', ...options.resource });

    const logExporter = this.#logs.wrap(new OTLPLogExporter({ url: `${base}/v1/logs`, ...common }) as LogRecordExporter, (b: ReadableLogRecord[]) => b.length);
    this.#loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: logExporter, ...buffer })] });
    this.#logger = this.#loggerProvider.getLogger('@tracebuf/log');

    const metricExporter = this.#metrics.wrap(new OTLPMetricExporter({ url: `${base}/v1/metrics`, ...common }) as PushMetricExporter, (_b: ResourceMetrics) => 1);
    this.#meterProvider = new MeterProvider({
      resource,
      readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: options.intervalMs ?? 1000, exportTimeoutMillis: Math.min(options.intervalMs ?? 1000, options.timeoutMs ?? 10_000) })],
    });
    this.#meter = this.#meterProvider.getMeter('@tracebuf/telemetry');

    const spanExporter = this.#spans.wrap(new OTLPTraceExporter({ url: `${base}/v1/traces`, ...common }) as SpanExporter, (b: ReadableSpan[]) => b.length);
    this.#tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(spanExporter, buffer)] });
    this.#tracer = this.#tracerProvider.getTracer('@tracebuf/telemetry');
  }

  /**
   * A `LogConsumer` destination: each pino NDJSON line becomes one OTel log record (severity from
   * `level`, timestamp from `time`, body `msg`, the other fields as attributes).
   */
  logDestination(): (text: string) => void {
    return (text) => {
      for (const raw of text.split('\n')) {
        if (raw === '') continue;
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          this.#logParseErrors++;
          continue;
        }
        const [severityNumber, severityText] = SEVERITY[line.level as number] ?? [SeverityNumber.UNSPECIFIED, String(line.level)];
        this.#logs.emitted++;
        this.#logger.emit({
          severityNumber,
          severityText,
          body: typeof line.msg === 'string' ? line.msg : JSON.stringify(line.msg ?? null),
          timestamp: typeof line.time === 'number' ? line.time : Date.now(),
          attributes: attributesOf(line),
        });
      }
    };
  }

  /**
   * A `TelemetryAggregator` `onRecord` hook for buffer `tb`: counters, gauges and histograms go to
   * OTel instruments of the same names (attribute `thread.id` = the writing thread), span
   * begin/end pairs of a thread become spans.
   */
  telemetrySink(tb: TraceBuffer): (record: TelemetryRecord) => void {
    // Buffer time (ns since creation) → epoch ms; the counter clock has no time: now.
    const offsetMs = tb.config.clock === 'counter' ? undefined : Date.now() - tb.now() / 1e6;
    const toMs = (ts: number): number => (offsetMs === undefined ? Date.now() : offsetMs + ts / 1e6);
    const open = new Map<number, { name: string; startMs: number }[]>();
    return (r) => {
      const attributes = { 'thread.id': r.pid };
      switch (r.kind) {
        case MetricKind.COUNTER:
          instrument(this.#counters, r.name, () => this.#meter.createCounter(r.name)).add(r.value, attributes);
          return;
        case MetricKind.GAUGE:
          instrument(this.#gauges, r.name, () => this.#meter.createGauge(r.name)).record(r.value, attributes);
          return;
        case MetricKind.HISTOGRAM:
          instrument(this.#histograms, r.name, () => this.#meter.createHistogram(r.name)).record(r.value, attributes);
          return;
        case MetricKind.SPAN_BEGIN: {
          const stack = open.get(r.pid) ?? [];
          stack.push({ name: r.name, startMs: toMs(r.timestamp) });
          open.set(r.pid, stack);
          return;
        }
        case MetricKind.SPAN_END: {
          const stack = open.get(r.pid);
          const at = stack === undefined ? -1 : stack.map((s) => s.name).lastIndexOf(r.name);
          if (at < 0) return;
          const [begun] = stack!.splice(at, 1);
          this.#spans.emitted++;
          this.#tracer.startSpan(r.name, { startTime: begun!.startMs, attributes }).end(toMs(r.timestamp));
          return;
        }
        default:
      }
    };
  }

  /** Exports what is queued now (logs, spans, metrics). */
  async flush(): Promise<void> {
    await Promise.all([this.#loggerProvider.forceFlush(), this.#tracerProvider.forceFlush(), this.#meterProvider.forceFlush()]);
  }

  /** Flushes and stops the exporters. */
  async shutdown(): Promise<void> {
    await this.flush();
    await Promise.all([this.#loggerProvider.shutdown(), this.#tracerProvider.shutdown(), this.#meterProvider.shutdown()]);
  }

  /**
   * What each signal did: records handed over, exported, failed, and dropped by the bounded queue
   * (exact once flushed; before that it includes what is still queued). Metrics count export
   * requests (collections), not records. `logParseErrors`: lines
   * that were not JSON.
   */
  stats(): { readonly logs: SignalStats; readonly spans: SignalStats; readonly metricExports: SignalStats; readonly logParseErrors: number } {
    const m = this.#metrics;
    const metricExports = { emitted: m.exported + m.failed, exported: m.exported, failed: m.failed, dropped: 0 };
    return { logs: this.#logs.stats(), spans: this.#spans.stats(), metricExports, logParseErrors: this.#logParseErrors };
  }
}

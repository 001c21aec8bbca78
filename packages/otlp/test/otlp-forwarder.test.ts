/**
 * `@tracebuf/otlp` (issue 10): logs, metrics and spans forwarded to an OTLP/HTTP receiver that the
 * test starts on 127.0.0.1 (the collector's protocol: JSON `ExportLogsServiceRequest`,
 * `ExportMetricsServiceRequest`, `ExportTraceServiceRequest`), checked record by record; a
 * receiver that answers 503 first gets the batch again (the exporters' retries); a queue too
 * small for the records counts what it dropped.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TraceBuffer } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';
import { OtlpForwarder } from '@tracebuf/otlp';
import { TelemetryAggregator, metrics } from '@tracebuf/telemetry';
import { afterEach, describe, expect, it } from 'vitest';

type Json = Record<string, unknown>;

/** A minimal OTLP/HTTP receiver: stores each decoded request body by path. */
class Receiver {
  readonly bodies = new Map<string, Json[]>();
  server!: Server;
  /** Answers 503 to this many requests first. */
  failFirst = 0;
  requests = 0;

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        if (this.failFirst > 0) {
          this.failFirst--;
          res.writeHead(503, { 'retry-after': '0' }).end();
          return;
        }
        expect(req.headers['content-type']).toMatch(/application\/json/);
        const list = this.bodies.get(req.url!) ?? [];
        list.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json);
        this.bodies.set(req.url!, list);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every log record received. */
  logRecords(): Json[] {
    return (this.bodies.get('/v1/logs') ?? []).flatMap((b) => (b.resourceLogs as Json[]).flatMap((rl) => (rl.scopeLogs as Json[]).flatMap((sl) => sl.logRecords as Json[])));
  }

  spans(): Json[] {
    return (this.bodies.get('/v1/traces') ?? []).flatMap((b) => (b.resourceSpans as Json[]).flatMap((rs) => (rs.scopeSpans as Json[]).flatMap((ss) => ss.spans as Json[])));
  }

  /** The metrics of the last export, by name. */
  lastMetrics(): Map<string, Json> {
    const out = new Map<string, Json>();
    for (const b of this.bodies.get('/v1/metrics') ?? []) {
      for (const rm of b.resourceMetrics as Json[]) for (const sm of rm.scopeMetrics as Json[]) for (const m of sm.metrics as Json[]) out.set(m.name as string, m);
    }
    return out;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

async function receiver(): Promise<[Receiver, string]> {
  const r = new Receiver();
  receivers.push(r);
  return [r, await r.start()];
}

const attr = (record: Json, key: string): unknown => {
  const a = (record.attributes as { key: string; value: Json }[]).find((x) => x.key === key);
  return a === undefined ? undefined : Object.values(a.value)[0];
};

describe('OtlpForwarder', () => {
  it('log lines become OTLP log records: body, severity, time, attributes — record by record', async () => {
    const [rx, url] = await receiver();
    const otlp = new OtlpForwarder({ url, resource: { 'service.name': 'otlp-test' }, intervalMs: 50 });
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 32, clock: 'local' });
    const consumer = new LogConsumer(tb, { destination: otlp.logDestination(), hostname: 'h', pid: 1 });
    const log = createLogger(tb, { name: 'svc' });
    const before = Date.now();
    for (let i = 0; i < 300; i++) log.info({ request: i, ok: i % 2 === 0, nested: { a: i } }, 'request %d done', i);
    log.error(new Error('boom'));
    consumer.drain();
    await otlp.shutdown();
    const records = rx.logRecords();
    expect(records).toHaveLength(301);
    for (let i = 0; i < 300; i++) {
      const r = records[i]!;
      expect((r.body as Json).stringValue).toBe(`request ${i} done`);
      expect([r.severityNumber, r.severityText]).toEqual([9, 'INFO']);
      expect(attr(r, 'request')).toBe(i);
      expect(attr(r, 'ok')).toBe(i % 2 === 0);
      expect(attr(r, 'nested')).toBe(JSON.stringify({ a: i }));
      expect(attr(r, 'name')).toBe('svc');
      const ms = Number(BigInt(r.timeUnixNano as string) / 1_000_000n);
      expect(ms).toBeGreaterThanOrEqual(before - 5);
    }
    expect([records[300]!.severityText, (records[300]!.body as Json).stringValue]).toEqual(['ERROR', 'boom']);
    const resource = ((rx.bodies.get('/v1/logs')![0]!.resourceLogs as Json[])[0]!.resource as Json).attributes as { key: string; value: Json }[];
    expect(resource.find((a) => a.key === 'service.name')?.value).toEqual({ stringValue: 'otlp-test' });
    expect(otlp.stats().logs).toEqual({ emitted: 301, exported: 301, failed: 0, dropped: 0 });
  });

  it('metrics and spans from telemetry: counter sums, histogram counts, one span per begin/end', async () => {
    const [rx, url] = await receiver();
    const otlp = new OtlpForwarder({ url, intervalMs: 50 });
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 32, clock: 'local' });
    const agg = new TelemetryAggregator(tb, { onRecord: otlp.telemetrySink(tb) });
    const m = metrics(tb);
    for (let i = 0; i < 40; i++) {
      m.begin('request');
      m.counter('requests').add(2);
      m.histogram('latency_us').record(100 + i);
      m.gauge('depth').set(i);
      m.end('request');
    }
    agg.drain();
    await otlp.shutdown();
    const ms = rx.lastMetrics();
    const sum = ms.get('requests')!.sum as { dataPoints: { asInt?: string; asDouble?: number }[] };
    expect(Number(sum.dataPoints[0]!.asInt ?? sum.dataPoints[0]!.asDouble)).toBe(80);
    const hist = ms.get('latency_us')!.histogram as { dataPoints: { count: string; sum: number; min: number; max: number }[] };
    expect([Number(hist.dataPoints[0]!.count), hist.dataPoints[0]!.sum, hist.dataPoints[0]!.min, hist.dataPoints[0]!.max]).toEqual([40, 40 * 100 + (39 * 40) / 2, 100, 139]);
    const gauge = ms.get('depth')!.gauge as { dataPoints: { asInt?: string; asDouble?: number }[] };
    expect(Number(gauge.dataPoints[0]!.asInt ?? gauge.dataPoints[0]!.asDouble)).toBe(39);
    const spans = rx.spans();
    expect(spans).toHaveLength(40);
    expect(spans.every((s) => s.name === 'request' && BigInt(s.endTimeUnixNano as string) >= BigInt(s.startTimeUnixNano as string))).toBe(true);
    expect(otlp.stats().spans).toEqual({ emitted: 40, exported: 40, failed: 0, dropped: 0 });
    agg.close();
  });

  it('a 503 is retried: the records arrive once the receiver accepts them', async () => {
    const [rx, url] = await receiver();
    rx.failFirst = 1;
    const otlp = new OtlpForwarder({ url, intervalMs: 50 });
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const consumer = new LogConsumer(tb, { destination: otlp.logDestination() });
    createLogger(tb).info('once');
    consumer.drain();
    await otlp.shutdown();
    expect(rx.logRecords().map((r) => (r.body as Json).stringValue)).toEqual(['once']);
    expect(rx.requests).toBeGreaterThanOrEqual(2);
    expect(otlp.stats().logs.exported).toBe(1);
  });

  it('a full queue drops, and says how many', async () => {
    const [rx, url] = await receiver();
    const otlp = new OtlpForwarder({ url, maxQueueSize: 10, maxExportBatchSize: 10, intervalMs: 60_000 });
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const consumer = new LogConsumer(tb, { destination: otlp.logDestination() });
    const log = createLogger(tb);
    for (let i = 0; i < 100; i++) log.info('line %d', i);
    consumer.drain();
    await otlp.shutdown();
    const { logs } = otlp.stats();
    expect(logs.emitted).toBe(100);
    expect(logs.exported).toBe(rx.logRecords().length);
    expect(logs.dropped).toBe(100 - logs.exported);
    expect(logs.dropped).toBeGreaterThan(0);
  });
});

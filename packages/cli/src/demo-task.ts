/**
 * The pool task of `tracebuf demo`: one simulated request — a little CPU work — logged with
 * `@tracebuf/log` into the logs buffer and measured with `@tracebuf/telemetry` (a span, a latency
 * histogram, a counter) into the telemetry buffer.
 *
 * @packageDocumentation
 */
import { TraceBuffer, type TraceBufferHandle } from '@tracebuf/core';
import { type Logger, createLogger } from '@tracebuf/log';
import { poolBuffer, poolProducer, poolWorkerData } from '@tracebuf/node/piscina';
import { type Metrics, metrics } from '@tracebuf/telemetry';

let log: Logger | undefined;
let m: Metrics | undefined;

/** Handles request `id`, spinning for about `workUs` µs. Returns the µs it took. */
export default function handle({ id, workUs }: { id: number; workUs: number }): number {
  if (m === undefined) {
    // Telemetry through the pool's slot of its buffer; logs through this thread's slot of the other.
    m = metrics(poolBuffer(), poolProducer());
    const { logs } = poolWorkerData<{ logs: TraceBufferHandle }>();
    log = createLogger(TraceBuffer.attach(logs), { name: 'demo' });
  }
  m.begin('request');
  const started = process.hrtime.bigint();
  let x = 0;
  while (Number(process.hrtime.bigint() - started) < workUs * 1000) x += Math.sqrt(x + id);
  const us = Math.round(Number(process.hrtime.bigint() - started) / 1000);
  m.histogram('latency_us').record(us);
  m.counter('requests').add();
  m.end('request');
  log!.info({ request: id, us, checksum: Math.round(x) % 1000 }, 'request %d served in %d µs', id, us);
  return us;
}

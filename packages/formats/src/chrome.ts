/**
 * Chrome trace-event JSON (the format Perfetto UI and `chrome://tracing` open): typed events
 * become instants; the span and counter events defined here become begin/end spans and counter
 * tracks.
 *
 * @packageDocumentation
 */
import { type DecodedEvent, defineEvent } from '@tracebuf/core';
import { type Capture, decodeCapture } from './capture.js';
import { clockIsNs } from './tracedat.js';

/** Begins a span on the writing thread (Chrome phase `B`). */
export const SpanBegin = defineEvent('span_begin', { name: 'string', category: 'string' });
/** Ends the innermost open span of that name on the writing thread (phase `E`). */
export const SpanEnd = defineEvent('span_end', { name: 'string' });
/** A counter sample: track `name` takes `value` (phase `C`). */
export const CounterSample = defineEvent('counter', { name: 'string', value: 's64' });

/** One Chrome trace event. */
export interface ChromeTraceEvent {
  name: string;
  cat: string;
  ph: 'B' | 'E' | 'i' | 'C' | 'M';
  ts: number;
  pid: number;
  tid: number;
  s?: 't';
  args: Record<string, unknown>;
}

/** Options of {@link toChromeTrace}. */
export interface ChromeTraceOptions {
  /** The `pid` of every event (one process). Default 1. */
  readonly pid?: number;
}

function jsonValue(v: DecodedEvent['fields'][string]): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
  return v;
}

function isEvent(e: DecodedEvent, name: string): boolean {
  return e.system === 'tracebuf' && e.name === name;
}

/**
 * The capture as a Chrome trace object (`{ traceEvents, displayTimeUnit }`): `ts` in µs for
 * clocks in ns (the raw count for `counter`), `tid` the writing thread, a `thread_name`
 * metadata event per known thread, lost events as instants named `lost events`.
 */
export function toChromeTrace(capture: Capture, options: ChromeTraceOptions = {}): { traceEvents: ChromeTraceEvent[]; displayTimeUnit: 'ns' } {
  const pid = options.pid ?? 1;
  const scale = clockIsNs(capture.clock) ? 1e-3 : 1;
  const traceEvents: ChromeTraceEvent[] = [];
  for (const [tid, name] of capture.threads) traceEvents.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid, args: { name } });
  decodeCapture(capture, (record) => {
    const e = record.event;
    const ts = record.timestamp * scale;
    if (record.lostBefore !== 0) {
      traceEvents.push({ name: 'lost events', cat: 'tracebuf', ph: 'i', s: 't', ts, pid, tid: e.pid, args: { cpu: record.cpu, lost: record.lostBefore } });
    }
    const f = e.fields;
    if (isEvent(e, 'span_begin')) {
      traceEvents.push({ name: String(f.name), cat: String(f.category) || 'tracebuf', ph: 'B', ts, pid, tid: e.pid, args: { cpu: record.cpu } });
    } else if (isEvent(e, 'span_end')) {
      traceEvents.push({ name: String(f.name), cat: 'tracebuf', ph: 'E', ts, pid, tid: e.pid, args: {} });
    } else if (isEvent(e, 'counter')) {
      traceEvents.push({ name: String(f.name), cat: 'tracebuf', ph: 'C', ts, pid, tid: e.pid, args: { value: jsonValue(f.value!) } });
    } else {
      const args: Record<string, unknown> = { cpu: record.cpu };
      for (const [k, v] of Object.entries(f)) args[k] = jsonValue(v);
      traceEvents.push({ name: e.name, cat: e.system, ph: 'i', s: 't', ts, pid, tid: e.pid, args });
    }
  });
  return { traceEvents, displayTimeUnit: 'ns' };
}

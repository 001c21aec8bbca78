/**
 * `@tracebuf/formats`: a buffer's events in the formats the Linux tools and trace viewers read —
 * trace-cmd `trace.dat` (v6), raw sub-buffers like `trace_pipe_raw`, `trace_pipe`-style text and
 * Chrome trace-event JSON.
 *
 * ```ts
 * import { captureBuffer, toTraceDat } from '@tracebuf/formats';
 * writeFileSync('trace.dat', toTraceDat(captureBuffer(tb)));   // then: trace-cmd report trace.dat
 * ```
 *
 * @packageDocumentation
 */
export { RecordDecoder, badInput, captureBuffer, decodeCapture, drainMapping, walkCapture } from './capture.js';
export type { Capture, CaptureRecord, CpuData, DecodedRecord, PageSink } from './capture.js';
export { HEADER_EVENT_TEXT, TRACE_DAT_MAGIC, TRACE_DAT_VERSION, TraceDatOption, clockIsNs, headerPageText, readTraceDat, toTraceDat, traceClockText, traceDatHeader } from './tracedat.js';
export { readRaw, writeRaw, writevAll } from './raw.js';
export type { RawWriteResult, ReadRawOptions } from './raw.js';
export { eventLine, lostLine, timestampText, toText, writeText } from './text.js';
export { CounterSample, SpanBegin, SpanEnd, toChromeTrace } from './chrome.js';
export type { ChromeTraceEvent, ChromeTraceOptions } from './chrome.js';
export { TraceDatRecorder, exportTraceDat } from './record.js';
export type { RecordProgress } from './record.js';

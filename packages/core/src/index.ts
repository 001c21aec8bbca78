/**
 * `@tracebuf/core`: the Linux tracing ring buffer and its user-space mmap interface (Linux 6.10)
 * for Node.js worker threads.
 *
 * @packageDocumentation
 */
export { TraceBuffer, resolveOptions } from './trace-buffer.js';
export type { BankHandle, CpuGeometry, CpuStats, DrainOptions, DrainSink, TraceBufferConfig, TraceBufferHandle, TraceBufferOptions } from './trace-buffer.js';
export { Producer } from './producer.js';
export type { Reservation } from './producer.js';
export { AbortError, Mapping, decodeMeta } from './mapping.js';
export type { MapRange, MappingMeta, WaitAsyncOptions, WaitOptions } from './mapping.js';
export { SubbufReader, LOST_EVENTS_UNKNOWN } from './decoder.js';
export { CpuCursor, ReaderRanges, copySubbuf, earliest, followSlots, rangeParts, waitAny } from './consumer.js';
export type { ConsumeOptions, TraceEvent } from './consumer.js';
export { CpuBuffer, cpuDataLength } from './cpu-buffer.js';
export type { Geometry, WriterSnapshot } from './cpu-buffer.js';
export { ErrorCode, TraceBufferError } from './errors.js';
export { MAX_INTERNED_LENGTH, NO_STRING, StringTable } from './strings.js';
export { DEFAULT_EVENT_SYSTEM, EventRegistry, THREAD_COMM, THREAD_PID, TypedEvent, defineEvent } from './registry.js';
export type { DefineEventOptions, EventWriter, FieldValues } from './registry.js';
export { COMMON_FIELDS, FieldKind, decodeWith, defaultPrintFmt, fieldText, formatText, layoutFields, parseEventFormat } from './schema.js';
export type { DecodedEvent, EventField, EventFormat, FieldKindValue, FieldSpec, FieldSpecs } from './schema.js';
export type { ErrorCodeName } from './errors.js';
export { ClockName } from './clock.js';
export type { ClockNameValue } from './clock.js';
export { eventLength, dataTypeLen, payloadOffset } from './event.js';
export {
  COMMIT_LENGTH_MASK,
  EventType,
  MAX_SUBBUF_SIZE,
  META_STRUCT_LENGTH,
  MIN_NR_SUBBUFS,
  MIN_SUBBUF_SIZE,
  MetaLayout,
  PageFlag,
  RB_MISSED_EVENTS,
  RB_MISSED_STORED,
  SUBBUF_DATA_OFFSET,
  SUBBUF_HEADER_LENGTH,
  TRACE_MMAP_IOCTL_GET_READER,
  TRACE_MMAP_IOCTL_WAKE,
  describeLayout,
} from './layout.js';
/** Every layout constant (offsets, indexes, flags) for tools and white-box tests. */
export * as layout from './layout.js';
export { InterleavePoint, setInterleaveHook } from './interleave.js';
export type { InterleaveHook, InterleavePointName } from './interleave.js';

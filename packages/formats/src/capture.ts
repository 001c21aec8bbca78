/**
 * A capture: what every output format is made from — per CPU, whole sub-buffers in the kernel
 * format (what `trace_pipe_raw` hands out), plus the event formats, the thread names and the
 * clock. Captures come from a live buffer or a snapshot (by GET_READER, consuming), from a raw
 * file or from a trace.dat; one merging walk decodes any of them.
 *
 * @packageDocumentation
 */
import {
  type DecodedEvent,
  type EventFormat,
  LOST_EVENTS_UNKNOWN,
  type Mapping,
  ReaderRanges,
  SubbufReader,
  type TraceBuffer,
  TraceBufferError,
  decodeWith,
  layout,
  rangeParts,
} from '@tracebuf/core';

const { SUBBUF_DATA_OFFSET, COMMON_TYPE_OFFSET, FTRACE_COMMON_LENGTH } = layout;

/** One CPU's data in a capture: whole sub-buffers, back to back. */
export interface CpuData {
  /** The sub-buffers (a multiple of the sub-buffer size). */
  readonly bytes: Uint8Array;
  /** Where `bytes` starts in the file it came from (0 for memory): offsets in errors add it. */
  readonly fileOffset: number;
}

/** Everything an output format needs. */
export interface Capture {
  /** Sub-buffer size in bytes (trace.dat's page size). */
  readonly subbufSize: number;
  /** The trace clock's name (`mono`, `local`, `counter`, or a kernel clock). */
  readonly clock: string;
  /** The event formats, by which records are decoded. */
  readonly formats: readonly EventFormat[];
  /** pid → thread name (trace.dat's saved cmdlines). */
  readonly threads: ReadonlyMap<number, string>;
  /** Per CPU (index = cpu number). */
  readonly cpus: readonly CpuData[];
}

/** Throws `EINVAL` with `what: offset=N`. */
export function badInput(what: string, offset: number): never {
  throw new TraceBufferError('EINVAL', `${what}: offset=${offset}`);
}

const ZEROS = new Uint8Array(1 << 20);

/**
 * Where one GET_READER's worth of events goes, as the three parts of a `trace_pipe_raw`
 * sub-buffer: the 16-byte header (a scratch, reused), the committed data straight from the
 * shared memory (plus a stored lost count), and the zero padding up to the sub-buffer size.
 * Nothing of the data is copied on the way; the sink decides what to do with the views.
 */
export type PageSink = (header: Uint8Array, data: Uint8Array, padding: Uint8Array) => void;

/**
 * Takes every sub-buffer the reader can get from `m` now (GET_READER until it hands out nothing
 * new) and passes each to `sink` as a `trace_pipe_raw` sub-buffer (core's `rangeParts`: the
 * header scratch, a view of the data, zeros). Returns how many.
 */
export function drainMapping(m: Mapping, sink: PageSink, reader = new SubbufReader()): number {
  const header = new Uint8Array(SUBBUF_DATA_OFFSET);
  const ranges = new ReaderRanges(m);
  let pages = 0;
  while (ranges.next()) {
    const data = rangeParts(m, ranges.id, ranges.from, ranges.read, header, reader);
    sink(header, data, ZEROS.subarray(0, m.subbufSize - SUBBUF_DATA_OFFSET - data.length));
    pages++;
  }
  return pages;
}

/** The clock name a buffer's capture carries. */
function clockOf(tb: TraceBuffer): string {
  return tb.config.clock;
}

/**
 * Captures a buffer (or a snapshot): takes every CPU buffer's events by GET_READER — it
 * consumes them, as reading `trace_pipe_raw` does — into memory, with the buffer's event formats
 * and thread names. Each sub-buffer is copied once (the memory is reused by the producers).
 */
export function captureBuffer(tb: TraceBuffer): Capture {
  const subbufSize = tb.geometry(0).subbufSize;
  const cpus: CpuData[] = [];
  for (let cpu = 0; cpu < tb.cpus; cpu++) {
    const chunks: Uint8Array[] = [];
    const m = tb.mapInternal(cpu);
    try {
      drainMapping(m, (header, data, padding) => {
        const out = new Uint8Array(header.length + data.length + padding.length);
        out.set(header);
        out.set(data, header.length);
        chunks.push(out);
      });
    } finally {
      m.unmap();
    }
    const bytes = new Uint8Array(chunks.length * subbufSize);
    for (const [i, c] of chunks.entries()) bytes.set(c, i * subbufSize);
    cpus.push({ bytes, fileOffset: 0 });
  }
  return { subbufSize, clock: clockOf(tb), formats: tb.events.formats(), threads: new Map(tb.events.threads()), cpus };
}

/** One record met by {@link walkCapture}. */
export interface CaptureRecord {
  /** CPU it was written on. */
  readonly cpu: number;
  /** Its timestamp (the capture's clock). */
  readonly timestamp: number;
  /** The memory of its payload. */
  readonly bytes: Uint8Array;
  /** Byte offset of the payload in {@link bytes}. */
  readonly offset: number;
  /** Payload length (a multiple of 4: the ring pads payloads). */
  readonly length: number;
  /** Offset of the payload in the file (for error messages). */
  readonly fileOffset: number;
  /** Events of this CPU lost just before it: 0, a count, or -1 (lost, number unknown). */
  readonly lostBefore: number;
}

/** Per-CPU cursor of the merging walk. */
class Cursor {
  readonly reader = new SubbufReader();
  page = 0;
  has = false;
  lost = 0;
  readonly pages: number;

  constructor(
    readonly cpu: number,
    readonly data: CpuData,
    readonly subbufSize: number,
  ) {
    if (data.bytes.length % subbufSize !== 0) {
      badInput(`cpu ${cpu} data is not a whole number of ${subbufSize}-byte sub-buffers (${data.bytes.length} bytes): truncated`, data.fileOffset + data.bytes.length - (data.bytes.length % subbufSize));
    }
    this.pages = data.bytes.length / subbufSize;
    this.reader.strict = true;
    this.reader.subbufSize = subbufSize;
    this.reader.fileOffset = data.fileOffset;
  }

  advance(): boolean {
    if (this.page > 0 && this.reader.next()) return (this.has = true);
    while (this.page < this.pages) {
      this.reader.load(this.data.bytes, this.page * this.subbufSize);
      this.page++;
      if (this.reader.missedEvents) this.lost = this.reader.lostEvents === LOST_EVENTS_UNKNOWN || this.lost === LOST_EVENTS_UNKNOWN ? LOST_EVENTS_UNKNOWN : this.lost + this.reader.lostEvents;
      if (this.reader.next()) return (this.has = true);
    }
    return (this.has = false);
  }
}

/**
 * Visits every record of `capture` in timestamp order across CPUs (within a CPU, in ring order).
 * Damaged data — a commit length beyond its sub-buffer, a record running past the commit, a
 * truncated sub-buffer — is `EINVAL` naming the file offset, before anything past it is visited.
 */
export function walkCapture(capture: Capture, visit: (record: CaptureRecord) => void): number {
  const cursors = capture.cpus.map((data, cpu) => new Cursor(cpu, data, capture.subbufSize));
  let n = 0;
  for (const c of cursors) c.advance();
  for (;;) {
    let best: Cursor | undefined;
    for (const c of cursors) if (c.has && (best === undefined || c.reader.timestamp < best.reader.timestamp)) best = c;
    if (best === undefined) return n;
    const r = best.reader;
    visit({
      cpu: best.cpu,
      timestamp: r.timestamp,
      bytes: r.bytes,
      offset: r.payloadOffset,
      length: r.payloadLength,
      fileOffset: best.data.fileOffset + r.payloadOffset,
      lostBefore: best.lost,
    });
    best.lost = 0;
    n++;
    best.advance();
  }
}

/** A record with its fields decoded. */
export interface DecodedRecord extends CaptureRecord {
  /** The decoded event. */
  readonly event: DecodedEvent;
}

/**
 * Looks formats up by ID and decodes records with them; an unknown ID or a damaged record is
 * `EINVAL` naming the file offset.
 */
export class RecordDecoder {
  readonly #byId = new Map<number, EventFormat>();

  constructor(formats: readonly EventFormat[]) {
    for (const f of formats) this.#byId.set(f.id, f);
  }

  /** The format of `id`, if known. */
  format(id: number): EventFormat | undefined {
    return this.#byId.get(id);
  }

  /** Decodes one record. */
  decode(record: CaptureRecord): DecodedEvent {
    if (record.length < FTRACE_COMMON_LENGTH) badInput(`a record of ${record.length} bytes is shorter than the common header`, record.fileOffset);
    const id = record.bytes[record.offset + COMMON_TYPE_OFFSET]! | (record.bytes[record.offset + COMMON_TYPE_OFFSET + 1]! << 8);
    const format = this.#byId.get(id);
    if (format === undefined) badInput(`unknown event id ${id}`, record.fileOffset + COMMON_TYPE_OFFSET);
    return decodeWith(format, record.bytes, record.offset, record.length, record.fileOffset);
  }
}

/** Every record of `capture`, decoded, in timestamp order. */
export function decodeCapture(capture: Capture, visit: (record: DecodedRecord) => void): number {
  const decoder = new RecordDecoder(capture.formats);
  return walkCapture(capture, (record) => visit({ ...record, event: decoder.decode(record) }));
}

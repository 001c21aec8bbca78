/**
 * High-level consumers built on map + GET_READER + waits: an async iterator of decoded events of
 * every CPU merged in timestamp order (like `trace_pipe`), and a Node `Readable` of raw
 * sub-buffers (like `trace_pipe_raw`).
 *
 * @packageDocumentation
 */
import { Readable } from 'node:stream';
import { SubbufReader } from './decoder.js';
import { invalid } from './errors.js';
import {
  COMMIT_LENGTH_MASK,
  MISSED_COUNT_LENGTH,
  RB_MISSED_STORED,
  SUBBUF_COMMIT_OFFSET,
  SUBBUF_DATA_OFFSET,
  SUBBUF_TIME_STAMP_OFFSET,
  TRACE_MMAP_IOCTL_GET_READER,
} from './layout.js';
import { AbortError, type Mapping } from './mapping.js';

/** One event handed out by `tb.consume()`. */
export interface TraceEvent {
  /** CPU slot the event was written to. */
  readonly cpu: number;
  /** Its timestamp (buffer clock). */
  readonly timestamp: number;
  /** A copy of its payload (padded to 4 bytes, as the kernel stores it). */
  readonly payload: Uint8Array;
  /** Events of this CPU lost just before this one: 0, a count, or -1 (lost, number unknown). */
  readonly lostBefore: number;
}

/** Options of `tb.consume()` and `tb.rawStream()`. */
export interface ConsumeOptions {
  /** Stops the iteration (the iterator returns) or destroys the stream. */
  readonly signal?: AbortSignal;
  /** End when every CPU buffer is empty instead of waiting for more data. Default false. */
  readonly untilEmpty?: boolean;
}

/** What a consumer needs from its buffer. */
export interface ConsumerHost {
  readonly cpus: number;
  /** A mapping for tracebuf's own consumers (not refused while a snapshot is armed). */
  mapInternal(cpu: number): Mapping;
}

/**
 * What GET_READER hands out on one mapping, range by range (what `trace_pipe_raw` readers do):
 * `next()` calls it and, when it handed out something new, sets `id`, `from` (where the new
 * events start: 0 in a new reader sub-buffer, the previous `read` when the same one grew) and
 * `read`.
 */
export class ReaderRanges {
  id: number;
  from = 0;
  read: number;

  constructor(readonly mapping: Mapping) {
    this.id = mapping.readerId;
    this.read = mapping.readerRead;
  }

  /**
   * The producer's publish sequence when a GET_READER last handed out nothing (NaN otherwise):
   * while it has not moved, the ring has nothing new and the call is skipped. A merging consumer
   * asks its idle rings after every event of the busy ones; a GET_READER costs ~0.3 µs, the
   * check one load.
   */
  #idleSeq = Number.NaN;

  /** GET_READER (unless the producer has published nothing since the last empty one); true when it handed out a new range. */
  next(): boolean {
    const m = this.mapping;
    const seq = m.writerSeq();
    if (seq === this.#idleSeq) return false;
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const id = m.readerId;
    const read = m.readerRead;
    if (id === this.id && read === this.read) {
      this.#idleSeq = seq;
      return false;
    }
    this.#idleSeq = Number.NaN;
    this.from = id === this.id && read >= this.read ? this.read : 0;
    this.id = id;
    this.read = read;
    return true;
  }
}

/**
 * Per-CPU cursor of a merging consumer: the reader sub-buffer range being walked. `advance()`
 * makes the next event current (in `reader`), asking GET_READER for more when the range is used
 * up; `lost` holds the events lost before the current one (0, a count, or -1).
 */
export class CpuCursor {
  readonly reader = new SubbufReader();
  readonly ranges: ReaderRanges;
  loaded = false;
  has = false;
  lost = 0;

  constructor(readonly mapping: Mapping) {
    this.ranges = new ReaderRanges(mapping);
  }

  /** Makes the next event current; asks GET_READER for more when the range is used up. */
  advance(): boolean {
    if (this.loaded && this.reader.next()) return (this.has = true);
    const m = this.mapping;
    const ranges = this.ranges;
    while (ranges.next()) {
      this.reader.load(m.bytes, m.subbufOffset(ranges.id), ranges.from, ranges.read);
      this.loaded = true;
      if (ranges.from === 0 && this.reader.missedEvents) this.lost = this.reader.lostEvents;
      if (this.reader.next()) return (this.has = true);
    }
    return (this.has = false);
  }
}

/**
 * The merge step of a consumer of several rings: lets every cursor without a current event
 * advance (with `advance(cursor, index)` when given, which may leave a cursor without one), and
 * returns the one whose current event is the earliest, or undefined when none has one.
 */
export function earliest<C extends CpuCursor>(cursors: readonly C[], advance?: (cursor: C, index: number) => void): C | undefined {
  let best: C | undefined;
  let bestTs = 0;
  for (let i = 0; i < cursors.length; i++) {
    const c = cursors[i]!;
    if (!c.has) {
      if (advance === undefined) c.advance();
      else advance(c, i);
    }
    if (!c.has) continue;
    const ts = c.reader.timestamp;
    if (best === undefined || ts < bestTs) {
      best = c;
      bestTs = ts;
    }
  }
  return best;
}

/**
 * Opens a cursor (with `open`) for each slot that came online since `cursors` was last filled:
 * slots come online at run time (`TraceBuffer.producer()` when every slot is claimed), and a
 * consumer that calls this once per pass reads them from their first event. Bringing a slot
 * online wakes every waiter of the buffer, so a consumer blocked on the other slots looks again.
 */
export function followSlots<T>(host: ConsumerHost, cursors: T[], open: (m: Mapping) => T): T[] {
  for (let cpu = cursors.length, n = host.cpus; cpu < n; cpu++) cursors.push(open(host.mapInternal(cpu)));
  return cursors;
}

/**
 * Waits until any of `mappings` reaches the watermark (`bufferPercent`, default 0: a filled
 * sub-buffer or any data, as `waitAsync`), `timeoutMs` passes or `signal` aborts — resolving in
 * each case; the other waits are cancelled. Any other failure rejects (a consumer loop must not
 * go on without waiting).
 */
export async function waitAny(
  mappings: readonly Mapping[],
  options: { readonly signal?: AbortSignal | undefined; readonly bufferPercent?: number; readonly timeoutMs?: number } = {},
): Promise<void> {
  const { signal, bufferPercent = 0, timeoutMs } = options;
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race(mappings.map((m) => m.waitAsync({ bufferPercent, signal: ac.signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) })));
  } catch (err) {
    if (!(err instanceof AbortError)) throw err;
  } finally {
    ac.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Every event of every CPU buffer, merged in timestamp order as they become available (events
 * that arrive later on another CPU with an earlier timestamp come after, as with `trace_pipe`).
 * Consumes what it hands out. Payloads are copies.
 */
export async function* consumeEvents(host: ConsumerHost, options: ConsumeOptions = {}): AsyncGenerator<TraceEvent, void, undefined> {
  const { signal } = options;
  const cursors: CpuCursor[] = [];
  try {
    while (signal?.aborted !== true) {
      followSlots(host, cursors, (m) => new CpuCursor(m));
      const best = earliest(cursors);
      if (best === undefined) {
        if (options.untilEmpty === true) return;
        await waitAny(
          cursors.map((c) => c.mapping),
          { signal },
        );
        continue;
      }
      const r = best.reader;
      const event: TraceEvent = {
        cpu: best.mapping.cpu,
        timestamp: r.timestamp,
        payload: r.bytes.slice(r.payloadOffset, r.payloadOffset + r.payloadLength),
        lostBefore: best.lost,
      };
      best.lost = 0;
      best.has = false;
      yield event;
    }
  } finally {
    for (const c of cursors) c.mapping.unmap();
  }
}

/**
 * What one GET_READER handed out, `[from, read)` of reader sub-buffer `id`, as the parts of a
 * stand-alone sub-buffer in the kernel format (a `trace_pipe_raw` read): fills `header` (16
 * bytes) and returns the data — a view of the mapping's memory, with the stored lost count when
 * there is one. From the start of a sub-buffer its header and commit flags are kept; from the
 * middle, the page stamp is the timestamp the events before `from` ran up to, so every delta still
 * decodes right (the kernel's `ring_buffer_read_page` does the same for a partly read page).
 */
export function rangeParts(m: Mapping, id: number, from: number, read: number, header: Uint8Array, reader = new SubbufReader()): Uint8Array {
  const at = m.subbufOffset(id);
  const bytes = m.bytes;
  const view = new DataView(header.buffer, header.byteOffset, SUBBUF_DATA_OFFSET);
  if (from === 0) {
    header.set(bytes.subarray(at, at + SUBBUF_DATA_OFFSET));
    const commit = view.getUint32(SUBBUF_COMMIT_OFFSET, true);
    // The count after the data is there only when the commit word says so and the reader got
    // the whole page.
    const stored = (commit & RB_MISSED_STORED) !== 0 && (commit & COMMIT_LENGTH_MASK) === read ? MISSED_COUNT_LENGTH : 0;
    view.setUint32(SUBBUF_COMMIT_OFFSET, (commit & ~COMMIT_LENGTH_MASK) | read, true);
    return bytes.subarray(at + SUBBUF_DATA_OFFSET, at + SUBBUF_DATA_OFFSET + read + stored);
  }
  reader.load(bytes, at, from, read);
  const ts = reader.timestamp;
  view.setUint32(SUBBUF_TIME_STAMP_OFFSET, ts % 4294967296, true);
  view.setUint32(SUBBUF_TIME_STAMP_OFFSET + 4, Math.floor(ts / 4294967296), true);
  view.setUint32(SUBBUF_COMMIT_OFFSET, read - from, true);
  view.setUint32(SUBBUF_COMMIT_OFFSET + 4, 0, true);
  return bytes.subarray(at + SUBBUF_DATA_OFFSET + from, at + SUBBUF_DATA_OFFSET + read);
}

/** {@link rangeParts} as one zero-padded copy of `subbufSize` bytes. */
export function copySubbuf(m: Mapping, id: number, from: number, read: number, reader = new SubbufReader()): Uint8Array {
  const out = new Uint8Array(m.subbufSize);
  out.set(rangeParts(m, id, from, read, out.subarray(0, SUBBUF_DATA_OFFSET), reader), SUBBUF_DATA_OFFSET);
  return out;
}

/**
 * A `Readable` of raw sub-buffers of CPU buffer `cpu`, like reading `trace_pipe_raw`: each chunk
 * is one whole sub-buffer (`subbufSize` bytes, kernel format, zero-padded) holding what one
 * GET_READER handed out.
 */
export function rawStream(host: ConsumerHost, cpu: number, options: ConsumeOptions = {}): Readable {
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= host.cpus) invalid(`cpu must be an integer 0..${host.cpus - 1}`, 'cpu', cpu);
  const m = host.mapInternal(cpu);
  const reader = new SubbufReader();
  const ranges = new ReaderRanges(m);
  let pumping = false;
  // Ends a pending wait when the stream is destroyed (with or without the caller's signal): a
  // pending wait keeps the process alive.
  const closed = new AbortController();
  const abort = (): void => closed.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  const stream = new Readable({
    read() {
      if (pumping) return;
      pumping = true;
      void (async () => {
        try {
          for (;;) {
            if (ranges.next()) {
              if (!stream.push(copySubbuf(m, ranges.id, ranges.from, ranges.read, reader))) return;
              continue;
            }
            if (options.untilEmpty === true) {
              stream.push(null);
              return;
            }
            if (closed.signal.aborted) return;
            await waitAny([m], { signal: closed.signal });
            if (closed.signal.aborted) return;
          }
        } catch (err) {
          stream.destroy(err as Error);
        } finally {
          pumping = false;
        }
      })();
    },
    destroy(err, callback) {
      closed.abort();
      options.signal?.removeEventListener('abort', abort);
      m.unmap();
      callback(err);
    },
  });
  closed.signal.addEventListener('abort', () => stream.destroy(), { once: true });
  return stream;
}

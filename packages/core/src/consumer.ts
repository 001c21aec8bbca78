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
 * Per-CPU cursor of a merging consumer: the reader sub-buffer range being walked. `advance()`
 * makes the next event current (in `reader`), asking GET_READER for more when the range is used
 * up; `lost` holds the events lost before the current one (0, a count, or -1).
 */
export class CpuCursor {
  readonly reader = new SubbufReader();
  lastId: number;
  lastRead: number;
  loaded = false;
  has = false;
  lost = 0;

  constructor(readonly mapping: Mapping) {
    this.lastId = mapping.readerId;
    this.lastRead = mapping.readerRead;
  }

  /** Makes the next event current; asks GET_READER for more when the range is used up. */
  advance(): boolean {
    if (this.loaded && this.reader.next()) return (this.has = true);
    const m = this.mapping;
    for (;;) {
      m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
      const id = m.readerId;
      const read = m.readerRead;
      if (id === this.lastId && read === this.lastRead) return (this.has = false);
      const from = id === this.lastId && read >= this.lastRead ? this.lastRead : 0;
      this.lastId = id;
      this.lastRead = read;
      this.reader.load(m.bytes, m.subbufOffset(id), from, read);
      this.loaded = true;
      if (from === 0 && this.reader.missedEvents) this.lost = this.reader.lostEvents;
      if (this.reader.next()) return (this.has = true);
    }
  }
}

/** Waits until any of `mappings` has data (or `signal` aborts); the other waits are cancelled. */
async function waitAny(mappings: readonly Mapping[], signal: AbortSignal | undefined): Promise<void> {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race(mappings.map((m) => m.waitAsync({ bufferPercent: 0, signal: ac.signal })));
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
  for (let cpu = 0; cpu < host.cpus; cpu++) cursors.push(new CpuCursor(host.mapInternal(cpu)));
  try {
    while (signal?.aborted !== true) {
      let best: CpuCursor | undefined;
      for (const c of cursors) {
        if (!c.has) c.advance();
        if (c.has && (best === undefined || c.reader.timestamp < best.reader.timestamp)) best = c;
      }
      if (best === undefined) {
        if (options.untilEmpty === true) return;
        await waitAny(
          cursors.map((c) => c.mapping),
          signal,
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
 * Copies what one GET_READER handed out, `[from, read)` of the reader sub-buffer, into a
 * stand-alone sub-buffer in the kernel format (a `trace_pipe_raw` read): from the start, the
 * header and commit flags (and a stored lost count) are kept; from the middle, the page stamp is
 * the timestamp the events before `from` ran up to, so every delta still decodes right.
 */
export function copySubbuf(m: Mapping, id: number, from: number, read: number, reader = new SubbufReader()): Uint8Array {
  const at = m.subbufOffset(id);
  const out = new Uint8Array(m.subbufSize);
  const view = new DataView(out.buffer);
  if (from === 0) {
    const commit = new DataView(m.bytes.buffer, m.bytes.byteOffset + at).getUint32(SUBBUF_COMMIT_OFFSET, true);
    const stored = (commit & RB_MISSED_STORED) !== 0 && (commit & COMMIT_LENGTH_MASK) === read ? MISSED_COUNT_LENGTH : 0;
    out.set(m.bytes.subarray(at, at + SUBBUF_DATA_OFFSET + read + stored));
    view.setUint32(SUBBUF_COMMIT_OFFSET, commit === (commit & COMMIT_LENGTH_MASK) ? read : (commit & ~COMMIT_LENGTH_MASK) | read, true);
    return out;
  }
  reader.load(m.bytes, at, from, read);
  const ts = reader.timestamp;
  view.setUint32(SUBBUF_TIME_STAMP_OFFSET, ts % 4294967296, true);
  view.setUint32(SUBBUF_TIME_STAMP_OFFSET + 4, Math.floor(ts / 4294967296), true);
  view.setUint32(SUBBUF_COMMIT_OFFSET, read - from, true);
  out.set(m.bytes.subarray(at + SUBBUF_DATA_OFFSET + from, at + SUBBUF_DATA_OFFSET + read), SUBBUF_DATA_OFFSET);
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
  let lastId = m.readerId;
  let lastRead = m.readerRead;
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
            m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
            const id = m.readerId;
            const read = m.readerRead;
            if (id !== lastId || read !== lastRead) {
              const from = id === lastId && read >= lastRead ? lastRead : 0;
              lastId = id;
              lastRead = read;
              if (!stream.push(copySubbuf(m, id, from, read, reader))) return;
              continue;
            }
            if (options.untilEmpty === true) {
              stream.push(null);
              return;
            }
            if (closed.signal.aborted) return;
            await waitAny([m], closed.signal);
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

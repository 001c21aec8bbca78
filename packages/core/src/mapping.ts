/**
 * A read-only mapping of one CPU buffer, in the kernel's mmap layout (kernel-semantics §5.3): the meta
 * page, then sub-buffer `k` at byte `metaPageSize + k * subbufSize`.
 *
 * "Read-only" is a promise of this API, not of the hardware: JavaScript cannot write-protect part
 * of a SharedArrayBuffer, so `bytes` can be written to — and doing so corrupts the buffer.
 * `Mapping` itself has no mutators.
 *
 * @packageDocumentation
 */
import type { CpuBuffer } from './cpu-buffer.js';
import { busyWaitNs } from './pace.js';
import { ErrorCode, TraceBufferError, invalid } from './errors.js';
import {
  META_ENTRIES_OFFSET,
  META_FLAGS_OFFSET,
  META_NR_SUBBUFS_OFFSET,
  META_OVERRUN_OFFSET,
  META_PAGE_SIZE_OFFSET,
  META_READER_ID_OFFSET,
  META_READER_LOST_EVENTS_OFFSET,
  META_READER_READ_OFFSET,
  META_READ_OFFSET,
  META_STRUCT_LEN_OFFSET,
  META_SUBBUF_SIZE_OFFSET,
  TRACE_MMAP_IOCTL_GET_READER,
  TRACE_MMAP_IOCTL_WAKE,
  WAKE_SEQ_INDEX,
  WSEQ_INDEX,
} from './layout.js';

/** The meta page (`struct trace_buffer_meta`) decoded. */
export interface MappingMeta {
  /** Bytes before sub-buffer 0: one sub-buffer size. */
  readonly metaPageSize: number;
  /** Length of the meta struct (80). */
  readonly metaStructLen: number;
  /** Sub-buffer size including the 16-byte header. */
  readonly subbufSize: number;
  /** Sub-buffers in the mapping (ring + reader). */
  readonly nrSubbufs: number;
  /** The reader sub-buffer. */
  readonly reader: {
    /** Lost events not yet reported (0 after GET_READER). */
    readonly lostEvents: number;
    /** Id of the reader sub-buffer. */
    readonly id: number;
    /** Bytes of its data area handed out so far. */
    readonly read: number;
  };
  /** Reserved, 0. */
  readonly flags: number;
  /** Events committed since the last reset (not "unread"). */
  readonly entries: number;
  /** Events lost to overwrite since the last reset. */
  readonly overrun: number;
  /** Data events consumed since the last reset. */
  readonly read: number;
}

/**
 * Decodes the meta page (`struct trace_buffer_meta`) at byte 0 of `view`: what `Mapping.meta`
 * returns, for any view of a mapping's memory (e.g. one another thread received).
 */
export function decodeMeta(view: DataView): MappingMeta {
  const u32 = (at: number): number => view.getUint32(at, true);
  const u64 = (at: number): number => Number(view.getBigUint64(at, true));
  return {
    metaPageSize: u32(META_PAGE_SIZE_OFFSET),
    metaStructLen: u32(META_STRUCT_LEN_OFFSET),
    subbufSize: u32(META_SUBBUF_SIZE_OFFSET),
    nrSubbufs: u32(META_NR_SUBBUFS_OFFSET),
    reader: {
      lostEvents: u64(META_READER_LOST_EVENTS_OFFSET),
      id: u32(META_READER_ID_OFFSET),
      read: u32(META_READER_READ_OFFSET),
    },
    flags: u64(META_FLAGS_OFFSET),
    entries: u64(META_ENTRIES_OFFSET),
    overrun: u64(META_OVERRUN_OFFSET),
    read: u64(META_READ_OFFSET),
  };
}

/** A byte range of the mapping object, as `mmap(offset, length)` takes it. */
export interface MapRange {
  /** Byte offset in the object (meta page at 0); a multiple of the sub-buffer size. */
  readonly offset?: number;
  /** Bytes to map; at least 1, not beyond the end of the object. */
  readonly length?: number;
}

/**
 * The kernel's mmap checks (kernel-semantics §5.4): the object is `(nr_subbufs + 1) * subbuf_size`
 * bytes; the offset must be a multiple of the sub-buffer size and inside the object; the length
 * must be non-zero and fit in what remains after the offset. All `EINVAL`.
 */
function checkRange(cb: CpuBuffer, offset: unknown, length: unknown): void {
  const total = cb.u8.length;
  if (!Number.isInteger(offset) || (offset as number) < 0 || (offset as number) % cb.subbufSize !== 0) {
    invalid(`map offset must be a multiple of the sub-buffer size ${cb.subbufSize}`, 'offset', offset);
  }
  if ((offset as number) >= total) invalid(`map offset is beyond the object of ${total} bytes`, 'offset', offset);
  if (!Number.isInteger(length) || (length as number) <= 0) invalid('map length must be a positive integer', 'length', length);
  if ((offset as number) + (length as number) > total) {
    invalid(`map length exceeds the ${total - (offset as number)} bytes after the offset`, 'length', length);
  }
}

/** Hooks a mapping needs from its buffer. */
export interface MappingHost {
  /** Wakes every waiter of the CPU buffer (`ioctl(fd, 0)`). */
  wake(cpu: number): void;
  /** The buffer's configuration (for `bufferPercent` and `readerPaceNs`). */
  readonly config: { readonly bufferPercent: number; readonly readerPaceNs?: number };
}

/** Options of {@link Mapping.wait}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (default: wait forever). */
  readonly timeoutMs?: number;
  /** Watermark for this wait, 0..100 (default: the buffer's `bufferPercent`; 0 = any data). */
  readonly bufferPercent?: number;
}

function checkPercent(percent: unknown, fallback: number): number {
  if (percent === undefined) return fallback;
  if (!Number.isInteger(percent) || (percent as number) < 0 || (percent as number) > 100) {
    invalid('bufferPercent must be an integer 0..100', 'bufferPercent', percent);
  }
  return percent as number;
}

/** Options of {@link Mapping.waitAsync}. */
export interface WaitAsyncOptions extends WaitOptions {
  /** Aborting it rejects the wait with an `AbortError`. */
  readonly signal?: AbortSignal;
}

/** The rejection of {@link Mapping.waitAsync} when its signal aborts (Node's `ABORT_ERR`). */
export class AbortError extends Error {
  /** Node's code for aborted operations. */
  readonly code = 'ABORT_ERR';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

function checkTimeout(timeoutMs: unknown): number {
  if (timeoutMs === undefined) return Number.POSITIVE_INFINITY;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    invalid('timeoutMs must be a number ≥ 0', 'timeoutMs', timeoutMs);
  }
  return timeoutMs;
}

/**
 * A read-only view of one CPU buffer, made by `TraceBuffer.map(cpu)`. The meta page is refreshed
 * only at map, at the end of every GET_READER and at reset, as in the kernel.
 */
export class Mapping {
  /** The CPU buffer this maps. */
  readonly cpu: number;
  /**
   * The mapped bytes: by default the whole object (meta page, then every sub-buffer in id
   * order); with `map(cpu, { offset, length })` only that range of it.
   */
  readonly bytes: Uint8Array;
  /** Byte offset of {@link bytes} in the whole object (0 unless a range was mapped). */
  readonly offset: number;
  /**
   * The SharedArrayBuffer behind {@link bytes} (growable: it can be longer than the mapping
   * object; make views with an explicit length, `(nrSubbufs + 1) * subbufSize`). For handing
   * the mapping to another thread.
   */
  readonly buffer: SharedArrayBuffer;
  /** Bytes before sub-buffer 0 (the meta page size: one sub-buffer). */
  readonly metaPageSize: number;
  /** Sub-buffer size including its header. */
  readonly subbufSize: number;
  /** Number of sub-buffers (ring + reader). */
  readonly nrSubbufs: number;

  readonly #cb: CpuBuffer;
  readonly #host: MappingHost;
  readonly #view: DataView;
  #mapped = true;

  /** @internal Use `TraceBuffer.map()`. */
  constructor(cb: CpuBuffer, host: MappingHost, range?: MapRange) {
    const total = cb.u8.length;
    const offset = range?.offset ?? 0;
    const length = range?.length ?? total - offset;
    checkRange(cb, offset, length);
    this.cpu = cb.cpu;
    this.#cb = cb;
    this.#host = host;
    this.offset = offset;
    this.buffer = cb.data;
    this.bytes = new Uint8Array(cb.data, offset, length);
    this.#view = new DataView(cb.data, 0, total);
    this.metaPageSize = cb.subbufSize;
    this.subbufSize = cb.subbufSize;
    this.nrSubbufs = cb.nrSubbufs;
    cb.addMapping();
  }

  /** True until {@link unmap}. */
  get mapped(): boolean {
    return this.#mapped;
  }

  /** The meta page, decoded (reads it now; it changes only at GET_READER and reset). */
  get meta(): MappingMeta {
    return decodeMeta(this.#view);
  }


  /** Id of the reader sub-buffer, from the meta page (no allocation). */
  get readerId(): number {
    return this.#view.getUint32(META_READER_ID_OFFSET, true);
  }

  /**
   * The producer's publish sequence (private control state, not the kernel's): it moves with
   * every event the producer commits or drops. Unchanged since a GET_READER that handed out
   * nothing means there is still nothing: a consumer polling an idle ring can skip the call
   * (what {@link ReaderRanges} does). One `Atomics.load`.
   */
  writerSeq(): number {
    return Atomics.load(this.#cb.ctl, WSEQ_INDEX);
  }

  /** Bytes of the reader sub-buffer handed out, from the meta page (no allocation). */
  get readerRead(): number {
    return this.#view.getUint32(META_READER_READ_OFFSET, true);
  }

  /** Byte offset of sub-buffer `id` in {@link bytes}; `EINVAL` if it lies outside the mapped range. */
  subbufOffset(id: number): number {
    this.#checkId(id);
    const at = this.metaPageSize + id * this.subbufSize - this.offset;
    if (at < 0 || at + this.subbufSize > this.bytes.length) {
      invalid('sub-buffer is outside the mapped range', 'id', id);
    }
    return at;
  }

  /** The bytes of sub-buffer `id` (a view, not a copy). */
  subbuf(id: number): Uint8Array {
    const at = this.subbufOffset(id);
    return this.bytes.subarray(at, at + this.subbufSize);
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.nrSubbufs) {
      invalid(`sub-buffer id must be an integer 0..${this.nrSubbufs - 1}`, 'id', id);
    }
  }

  /**
   * The mapping's control call. `TRACE_MMAP_IOCTL_GET_READER` makes the next unread data the
   * reader sub-buffer's (kernel-semantics §5.5) and returns 0; `0` wakes this CPU buffer's waiters.
   * `ENODEV` after {@link unmap}; `ENOTTY` for any other command.
   */
  ioctl(cmd: number): number {
    if (cmd !== TRACE_MMAP_IOCTL_GET_READER && cmd !== TRACE_MMAP_IOCTL_WAKE) {
      throw new TraceBufferError(ErrorCode.ENOTTY, `unknown ioctl command: cmd=${String(cmd)}`);
    }
    if (cmd === TRACE_MMAP_IOCTL_WAKE) {
      this.#host.wake(this.cpu);
      return 0;
    }
    this.#checkMapped();
    const pace = this.#host.config.readerPaceNs ?? 0;
    if (pace !== 0 && this.#cb.readerOnTail()) busyWaitNs(pace);
    this.#cb.getReader();
    return 0;
  }

  /**
   * Blocks this thread with `Atomics.wait` until the `bufferPercent` watermark is reached
   * (kernel-semantics §6.1) or the first wake-up of this CPU buffer — a watermark crossing, `ioctl(0)`,
   * `setRecording(false)` — as the kernel's blocking GET_READER does. Returns `true` when woken
   * or already at the watermark, `false` on timeout. Meant for worker threads: on the main
   * thread it blocks the event loop (use {@link waitAsync}).
   */
  wait(options: WaitOptions = {}): boolean {
    const timeout = checkTimeout(options.timeoutMs);
    const percent = checkPercent(options.bufferPercent, this.#host.config.bufferPercent);
    this.#checkMapped();
    const seq = this.#cb.prepareWait(percent);
    if (seq < 0) return true;
    return Atomics.wait(this.#cb.ctl, WAKE_SEQ_INDEX, seq, timeout) !== 'timed-out';
  }

  /**
   * {@link wait} for any thread, with `Atomics.waitAsync`. Resolves `true` when woken or already
   * at the watermark, `false` on timeout; rejects with an {@link AbortError} when `signal`
   * aborts. Keeps the process alive while pending (a pending `Atomics.waitAsync` alone does not).
   */
  async waitAsync(options: WaitAsyncOptions = {}): Promise<boolean> {
    const timeout = checkTimeout(options.timeoutMs);
    const percent = checkPercent(options.bufferPercent, this.#host.config.bufferPercent);
    const signal = options.signal;
    if (signal?.aborted) throw new AbortError('the wait was aborted', { cause: signal.reason });
    this.#checkMapped();
    const seq = this.#cb.prepareWait(percent);
    if (seq < 0) return true;
    const result = Atomics.waitAsync(this.#cb.ctl, WAKE_SEQ_INDEX, seq, timeout);
    if (!result.async) return result.value !== 'timed-out';
    const keepAlive = setInterval(() => undefined, 1 << 30);
    let onAbort: (() => void) | undefined;
    try {
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new AbortError('the wait was aborted', { cause: signal?.reason }));
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      return (await Promise.race([result.value, aborted])) !== 'timed-out';
    } finally {
      clearInterval(keepAlive);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  #checkMapped(): void {
    if (!this.#mapped) throw new TraceBufferError(ErrorCode.ENODEV, `mapping was unmapped: cpu=${this.cpu}`);
  }

  /** Ends the mapping. Further `ioctl` calls fail with `ENODEV`. Idempotent. */
  unmap(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    this.#cb.removeMapping();
  }
}

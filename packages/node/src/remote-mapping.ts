/**
 * `RemoteMapping`: a consumer's read-only view of one CPU buffer, built from a
 * {@link MappingDescriptor}. Reading (meta page, sub-buffers) is local, on the shared memory;
 * GET_READER, waits and unmap go through the control channel and run in the owner's thread.
 *
 * "Read-only" is a promise of this API, not of the hardware: JavaScript cannot write-protect a
 * SharedArrayBuffer, so `bytes` can be written to — and doing so corrupts the buffer.
 * `RemoteMapping` itself has no mutators.
 *
 * @packageDocumentation
 */
import {
  AbortError,
  ErrorCode,
  type MappingMeta,
  TRACE_MMAP_IOCTL_GET_READER,
  TRACE_MMAP_IOCTL_WAKE,
  TraceBufferError,
  type WaitAsyncOptions,
  decodeMeta,
  layout,
} from '@tracebuf/core';
import type { ControlApi, ControlWaitOptions, MappingDescriptor } from './protocol.js';

/** What a {@link RemoteMapping} needs from its client. @internal */
export interface ControlLink {
  /** Calls operation `op` in the owner. */
  call<K extends keyof ControlApi>(op: K, ...args: Parameters<ControlApi[K]>): Promise<Awaited<ReturnType<ControlApi[K]>>>;
  /** True once the channel is closed. */
  readonly closed: boolean;
  /** A new id for a wait of this channel. */
  nextWaitId(): number;
}


/**
 * A consumer's mapping of one CPU buffer, made by `ControlClient.map(cpu)`: the same reading
 * surface as core's `Mapping` (`bytes`, `meta`, `subbuf(id)`), with the calls that change the
 * buffer's state made asynchronous because they run in the owner's thread.
 *
 * ```ts
 * const m = await client.map(0);
 * await m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
 * const { id, read } = m.meta.reader;
 * reader.load(m.bytes, m.subbufOffset(id), 0, read);
 * ```
 */
export class RemoteMapping {
  /** The CPU buffer this maps. */
  readonly cpu: number;
  /** The owner's id for this mapping (per channel). */
  readonly mappingId: number;
  /** The whole mapped object: meta page, then every sub-buffer in id order. Do not write to it. */
  readonly bytes: Uint8Array;
  /** Byte offset of {@link bytes} in the object (always 0: a remote mapping maps it all). */
  readonly offset = 0;
  /** Bytes before sub-buffer 0 (the meta page size: one sub-buffer). */
  readonly metaPageSize: number;
  /** Sub-buffer size including its header. */
  readonly subbufSize: number;
  /** Number of sub-buffers (ring + reader). */
  readonly nrSubbufs: number;

  readonly #view: DataView;
  readonly #link: ControlLink;
  #mapped = true;

  /** @internal Use `ControlClient.map()`. */
  constructor(descriptor: MappingDescriptor, link: ControlLink) {
    this.cpu = descriptor.cpu;
    this.mappingId = descriptor.mappingId;
    // The SharedArrayBuffer is growable (it can be longer than the mapping object): fixed-length
    // views of exactly the object, meta page plus every sub-buffer.
    const length = descriptor.metaPageSize + descriptor.nrSubbufs * descriptor.subbufSize;
    this.bytes = new Uint8Array(descriptor.data, 0, length);
    this.#view = new DataView(descriptor.data, 0, length);
    this.metaPageSize = descriptor.metaPageSize;
    this.subbufSize = descriptor.subbufSize;
    this.nrSubbufs = descriptor.nrSubbufs;
    this.#link = link;
  }

  /** True until {@link unmap} (or until the channel closes: the owner then unmaps everything). */
  get mapped(): boolean {
    return this.#mapped && !this.#link.closed;
  }

  /** The meta page, decoded (reads it now; it changes only at GET_READER and reset). */
  get meta(): MappingMeta {
    return decodeMeta(this.#view);
  }

  /** Id of the reader sub-buffer, from the meta page (no allocation). */
  get readerId(): number {
    return this.#view.getUint32(layout.META_READER_ID_OFFSET, true);
  }

  /** Bytes of the reader sub-buffer handed out, from the meta page (no allocation). */
  get readerRead(): number {
    return this.#view.getUint32(layout.META_READER_READ_OFFSET, true);
  }

  /** Byte offset of sub-buffer `id` in {@link bytes}; `EINVAL` for an id out of range. */
  subbufOffset(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.nrSubbufs) {
      throw new TraceBufferError(ErrorCode.EINVAL, `sub-buffer id must be an integer 0..${this.nrSubbufs - 1}: id=${String(id)}`);
    }
    return this.metaPageSize + id * this.subbufSize;
  }

  /** The bytes of sub-buffer `id` (a view, not a copy). */
  subbuf(id: number): Uint8Array {
    const at = this.subbufOffset(id);
    return this.bytes.subarray(at, at + this.subbufSize);
  }

  /**
   * The mapping's control call, run by the owner: `TRACE_MMAP_IOCTL_GET_READER` makes the next
   * unread data the reader sub-buffer's and resolves 0 once the meta page says so; `0` wakes this
   * CPU buffer's waiters. Rejects with `ENODEV` after {@link unmap}, `ENOTTY` for any other command.
   */
  async ioctl(cmd: number): Promise<number> {
    if (!this.#mapped) {
      // What core's Mapping does once unmapped, without asking the owner (it forgot the id).
      if (cmd === TRACE_MMAP_IOCTL_WAKE) {
        await this.#link.call('wake', this.cpu);
        return 0;
      }
      if (cmd === TRACE_MMAP_IOCTL_GET_READER) throw this.#unmappedError();
      throw new TraceBufferError(ErrorCode.ENOTTY, `unknown ioctl command: cmd=${String(cmd)}`);
    }
    return this.#link.call('ioctl', this.mappingId, cmd);
  }

  /**
   * Waits, in the owner, until the `bufferPercent` watermark is reached or the CPU buffer is
   * woken (core's `Mapping.waitAsync`). Resolves `true` when woken, `false` on timeout; rejects
   * with an `AbortError` when `signal` aborts (the owner's wait is cancelled too). The pending
   * call keeps this thread alive.
   */
  async waitAsync(options: WaitAsyncOptions = {}): Promise<boolean> {
    const signal = options.signal;
    if (signal?.aborted) throw new AbortError('the wait was aborted', { cause: signal.reason });
    if (!this.#mapped) throw this.#unmappedError();
    const waitId = this.#link.nextWaitId();
    const remote: ControlWaitOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
    const onAbort = (): void => {
      this.#link.call('cancelWait', waitId).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.#link.call('waitAsync', this.mappingId, waitId, remote);
    } catch (err) {
      if (err instanceof AbortError && signal?.aborted === true) throw new AbortError('the wait was aborted', { cause: signal.reason });
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Ends the mapping in the owner. Further `ioctl` calls reject with `ENODEV`. Idempotent. */
  async unmap(): Promise<void> {
    if (!this.#mapped) return;
    this.#mapped = false;
    // A closed channel has already unmapped everything in the owner.
    if (!this.#link.closed) await this.#link.call('unmap', this.mappingId);
  }

  #unmappedError(): TraceBufferError {
    return new TraceBufferError(ErrorCode.ENODEV, `mapping was unmapped: cpu=${this.cpu}`);
  }
}

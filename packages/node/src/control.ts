/**
 * The control channel (DESIGN.md §3, "control plane"): the thread that owns a `TraceBuffer`
 * exposes it over a `MessagePort` with comlink, and a consumer that holds only that port maps
 * CPU buffers, drives GET_READER, waits, and switches recording, resets and reads stats —
 * every call running in the owner's thread. The data never crosses the channel: a mapping is a
 * descriptor of the shared memory, read in place.
 *
 * ```
 *  consumer thread                         owner thread (has the TraceBuffer)
 *  ControlClient ──── MessagePort/comlink ──── exposeControl(tb, port)
 *   map(cpu)      ─────────────────────────▶  tb.map(cpu) kept as mappingId
 *                 ◀── { mappingId, data: SAB, sizes }
 *   RemoteMapping.ioctl(GET_READER) ───────▶  mapping.ioctl(GET_READER)  (swap + meta page)
 *   reads meta page + sub-buffer in `data`    (shared memory, no copy)
 * ```
 *
 * @packageDocumentation
 */
import type { MessagePort } from 'node:worker_threads';
import { type CpuStats, ErrorCode, type Mapping, type TraceBuffer, TraceBufferError, type TraceBufferConfig } from '@tracebuf/core';
import { type Remote, expose, finalizer, wrap } from 'comlink';
import { portEndpoint } from './endpoint.js';
import { type ControlApi, type MappingDescriptor, keepErrorCodes, refusal, thrownReply } from './protocol.js';
import { type ControlLink, RemoteMapping } from './remote-mapping.js';

/** Ends what {@link exposeControl} started. Idempotent. */
export type ControlDisposer = () => void;

/**
 * Serves the control operations of `tb` on `port` (one consumer per port; expose one port per
 * consumer). The consumer's mappings are this thread's `tb.map()` mappings, kept by id.
 *
 * While exposed, the port keeps this thread alive. When the other end closes (its thread ended,
 * crashed or was terminated, or it called `client.close()`), or when the returned disposer is
 * called, every mapping of the channel is unmapped, pending waits end with an `AbortError`, and
 * the port is closed.
 *
 * Only calls of the named operations with plain arguments are served; any other comlink request
 * (property read or write, `new`, new endpoint) is refused with `ENOTTY`.
 */
export function exposeControl(tb: TraceBuffer, port: MessagePort): ControlDisposer {
  keepErrorCodes();
  const mappings = new Map<number, Mapping>();
  const waits = new Map<number, AbortController>();
  let nextMappingId = 1;
  let disposed = false;

  const mappingOf = (mappingId: number): Mapping => {
    const m = mappings.get(mappingId);
    if (m === undefined) throw new TraceBufferError(ErrorCode.ENODEV, `no such mapping on this channel: mappingId=${String(mappingId)}`);
    return m;
  };

  const api: ControlApi = {
    config: () => tb.config,
    cpus: () => tb.cpus,
    map(cpu) {
      const m = tb.map(cpu);
      const mappingId = nextMappingId++;
      mappings.set(mappingId, m);
      return {
        mappingId,
        cpu: m.cpu,
        data: m.buffer,
        subbufSize: m.subbufSize,
        nrSubbufs: m.nrSubbufs,
        metaPageSize: m.metaPageSize,
      };
    },
    unmap(mappingId) {
      mappings.get(mappingId)?.unmap();
      mappings.delete(mappingId);
    },
    ioctl: (mappingId, cmd) => mappingOf(mappingId).ioctl(cmd),
    async waitAsync(mappingId, waitId, options) {
      const m = mappingOf(mappingId);
      const controller = new AbortController();
      waits.set(waitId, controller);
      try {
        const timeout = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
        return await m.waitAsync({ ...timeout, signal: controller.signal });
      } finally {
        waits.delete(waitId);
      }
    },
    cancelWait(waitId) {
      waits.get(waitId)?.abort();
    },
    setRecording: (on) => tb.setRecording(on),
    recording: () => tb.recording,
    reset: (cpu) => tb.reset(cpu),
    stats: (cpu) => tb.stats(cpu),
    wake: (cpu) => tb.wake(cpu),
  };

  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    for (const controller of waits.values()) controller.abort();
    waits.clear();
    for (const m of mappings.values()) m.unmap();
    mappings.clear();
    port.off('close', dispose);
    port.close();
  };

  // comlink calls the finalizer when the consumer releases its proxy.
  const served = Object.freeze(Object.assign(Object.create(null) as object, api, { [finalizer]: dispose }));
  const endpoint = portEndpoint(port, (data) => {
    const why = refusal(data);
    if (why === undefined) return false;
    port.postMessage(thrownReply((data as { id?: unknown }).id, new TraceBufferError(ErrorCode.ENOTTY, why)));
    return true;
  });
  port.on('close', dispose);
  expose(served, endpoint);
  return dispose;
}

/** Options of {@link connectControl}. */
export interface ConnectOptions {
  /**
   * Keep this thread alive while the channel is open, not only while a call is pending.
   * Default false: an idle client lets its thread exit (like an unref'd socket).
   */
  readonly keepAlive?: boolean;
}

/**
 * The consumer's end of a control channel, made by {@link connectControl}. Every method runs
 * the operation in the owner's thread and resolves with its result; a `TraceBufferError` thrown
 * there rejects here with the same class, code and message. Once the channel is closed (by
 * {@link close}, by the owner, or because the owner's thread ended) calls reject with `ENODEV`.
 */
export class ControlClient {
  readonly #port: MessagePort;
  readonly #remote: Remote<ControlApi>;
  readonly #keepAlive: boolean;
  readonly #pending = new Set<(reason: unknown) => void>();
  readonly #link: ControlLink;
  #closed = false;
  #nextWaitId = 1;

  /** @internal Use {@link connectControl}. */
  constructor(port: MessagePort, options: ConnectOptions = {}) {
    keepErrorCodes();
    this.#port = port;
    this.#keepAlive = options.keepAlive === true;
    this.#remote = wrap<ControlApi>(portEndpoint(port));
    port.once('close', () => this.#onClose());
    if (!this.#keepAlive) port.unref();
    const client = this;
    this.#link = {
      call: (op, ...args) => this.#call(op, ...args),
      get closed() {
        return client.#closed;
      },
      nextWaitId: () => this.#nextWaitId++,
    };
  }

  /** True once the channel is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The buffer's configuration (`tb.config`). */
  config(): Promise<TraceBufferConfig> {
    return this.#call('config');
  }

  /** The cpu slots online now (`tb.cpus`; `config().cpus` is the count at creation). */
  cpus(): Promise<number> {
    return this.#call('cpus');
  }

  /**
   * Maps CPU buffer `cpu` in the owner and returns this thread's read-only view of it.
   * `EINVAL` for a cpu out of range.
   */
  async map(cpu: number): Promise<RemoteMapping> {
    const descriptor: MappingDescriptor = await this.#call('map', cpu);
    return new RemoteMapping(descriptor, this.#link);
  }

  /** Turns recording on or off (`tb.setRecording`); off wakes every waiter. */
  setRecording(on: boolean): Promise<void> {
    return this.#call('setRecording', on);
  }

  /** True while recording is on (`tb.recording`). */
  recording(): Promise<boolean> {
    return this.#call('recording');
  }

  /** Empties every CPU buffer, or only `cpu` (`tb.reset`). */
  reset(cpu?: number): Promise<void> {
    return cpu === undefined ? this.#call('reset') : this.#call('reset', cpu);
  }

  /** The counters of CPU buffer `cpu` (`tb.stats`). */
  stats(cpu: number): Promise<CpuStats> {
    return this.#call('stats', cpu);
  }

  /** Wakes every waiter of `cpu` (`tb.wake`). */
  wake(cpu: number): Promise<void> {
    return this.#call('wake', cpu);
  }

  /** Closes the channel: the owner unmaps this client's mappings. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#port.close();
    this.#onClose();
  }

  #call<K extends keyof ControlApi>(op: K, ...args: Parameters<ControlApi[K]>): Promise<Awaited<ReturnType<ControlApi[K]>>> {
    if (this.#closed) return Promise.reject(closedError());
    const fn = this.#remote[op] as unknown as (...a: unknown[]) => Promise<Awaited<ReturnType<ControlApi[K]>>>;
    return new Promise((resolve, reject) => {
      this.#pending.add(reject);
      if (!this.#keepAlive && this.#pending.size === 1) this.#port.ref();
      fn(...args)
        .then(resolve, reject)
        .finally(() => {
          this.#pending.delete(reject);
          if (!this.#keepAlive && this.#pending.size === 0 && !this.#closed) this.#port.unref();
        });
    });
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const reject of this.#pending) reject(closedError());
    this.#pending.clear();
  }
}

function closedError(): TraceBufferError {
  return new TraceBufferError(ErrorCode.ENODEV, 'the control channel is closed: channel=closed');
}

/**
 * Connects to a control channel exposed with {@link exposeControl} on the other end of `port`
 * (typically a port transferred to this worker through `workerData` or `postMessage`).
 *
 * ```ts
 * const client = connectControl(workerData.port);
 * const m = await client.map(0);
 * await m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
 * ```
 */
export function connectControl(port: MessagePort, options?: ConnectOptions): ControlClient {
  return new ControlClient(port, options);
}

/**
 * `TraceBuffer`: a set of per-CPU ring buffers in SharedArrayBuffers (kernel `trace_buffer`).
 *
 * @packageDocumentation
 */
import { availableParallelism } from 'node:os';
import { ClockKind, ClockName, type ClockNameValue, counterPeek, hrNowNs, monoNow, monoOffsetNs } from './clock.js';
import { read64 } from './counters.js';
import { CpuBuffer, cpuDataLength, type Geometry } from './cpu-buffer.js';
import { ErrorCode, TraceBufferError, invalid, showValue } from './errors.js';
import {
  CLAIM_INDEX,
  COMMIT_OVERRUN_INDEX,
  CONTROL_MAGIC,
  CREATED_HR_F64_INDEX,
  GLOBAL_CONTROL_LENGTH,
  LOST_UNREPORTED_INDEX,
  MAGIC_INDEX,
  MAX_SUBBUF_SIZE,
  MIN_NR_SUBBUFS,
  MIN_SUBBUF_SIZE,
  NEXT_TOKEN_INDEX,
  PAGE_FLAG_MASK,
  PAGE_LINK_SHIFT,
  PageFlag,
  PAGES_READ_INDEX,
  READER_PAGE_INDEX,
  READ_BYTES_INDEX,
  READ_INDEX,
  TRACE_MMAP_IOCTL_GET_READER,
  cpuControlLength,
} from './layout.js';
import type { Readable } from 'node:stream';
import { type ConsumeOptions, type TraceEvent, consumeEvents, rawStream } from './consumer.js';
import { SubbufReader } from './decoder.js';
import { Mapping, type MapRange, type MappingHost } from './mapping.js';
import { Producer, type ProducerContext } from './producer.js';

/** Receives the events of {@link TraceBuffer.drainTo}. */
export interface DrainSink {
  /** One committed event; `payload` is a view valid only during the call (copy it to keep it). */
  event(cpu: number, timestamp: number, payload: Uint8Array): void;
  /** Events lost before the next event of `cpu` (-1: lost, number unknown). */
  lost?(cpu: number, count: number): void;
}

/** Options of {@link TraceBuffer.drainTo}. */
export interface DrainOptions {
  /**
   * Treat every producer as dead and take its slot back first (after a crash, or from
   * `process.on('exit')` once producers are gone): a producer that died inside its publish
   * sequence would otherwise keep readers waiting. Default false.
   */
  readonly recover?: boolean;
}

/** Options of {@link TraceBuffer.create}. */
export interface TraceBufferOptions {
  /** Number of rings (cpu slots). Default `os.availableParallelism()`. */
  cpus?: number;
  /** Bytes per sub-buffer including the 16-byte header: a power of two, 4096..1048576. Default 4096. */
  subbufSize?: number;
  /** Sub-buffers per CPU including the reader one, at least 3. Default 256. */
  nrSubbufs?: number;
  /** Overwrite the oldest data when full (default, as the kernel); `false` drops the newest. */
  overwrite?: boolean;
  /** `'mono'` (default): ns shared by all threads; `'counter'`: a global sequence. */
  clock?: ClockNameValue;
  /** Watermark for waits, 0..100 (percent of the ring's sub-buffers dirty). Default 50. */
  bufferPercent?: number;
}

/** The resolved configuration of a buffer. */
export interface TraceBufferConfig {
  readonly cpus: number;
  readonly subbufSize: number;
  readonly nrSubbufs: number;
  readonly overwrite: boolean;
  readonly clock: ClockNameValue;
  readonly bufferPercent: number;
}

/** The structured-cloneable description of a buffer; pass it to workers and `attach()` it. */
export interface TraceBufferHandle {
  readonly kind: 'tracebuf';
  readonly version: 1;
  readonly config: TraceBufferConfig;
  readonly global: SharedArrayBuffer;
  readonly cpus: readonly { readonly data: SharedArrayBuffer; readonly control: SharedArrayBuffer }[];
}

/** `tb.stats(cpu)`: the kernel's `per_cpu/cpuN/stats` (reference §7) plus a few more counters. */
export interface CpuStats {
  /** Events still unread: `entries − overrun − read`. */
  readonly entries: number;
  /** Events lost because the producer overwrote unread sub-buffers. */
  readonly overrun: number;
  /** Events dropped because the producer wrapped onto uncommitted data (always 0: no nesting). */
  readonly commitOverrun: number;
  /** Bytes reserved (events, extends, end padding) minus overwritten, minus read. */
  readonly bytes: number;
  /** Timestamp of the oldest sub-buffer still in the buffer. */
  readonly oldestEventTs: number;
  /** The buffer clock now. */
  readonly nowTs: number;
  /** Events refused in producer/consumer mode because the ring was full. */
  readonly droppedEvents: number;
  /** Data events consumed. */
  readonly readEvents: number;
  /** Events committed since the reset (the meta page's `entries`). */
  readonly committed: number;
  /** Sub-buffers the producer moved onto. */
  readonly pagesTouched: number;
  /** Sub-buffers overwritten. */
  readonly pagesLost: number;
  /** Reader sub-buffer swaps. */
  readonly pagesRead: number;
  /** Overwritten events no sub-buffer could flag (the producer was on the new reader sub-buffer). */
  readonly lostUnreported: number;
}

const DEFAULTS = {
  subbufSize: 4096,
  nrSubbufs: 256,
  overwrite: true,
  clock: ClockName.MONO,
  bufferPercent: 50,
} as const;

const OPTION_NAMES = new Set(['cpus', 'subbufSize', 'nrSubbufs', 'overwrite', 'clock', 'bufferPercent']);
const MAX_CPUS = 4096;

/** Validates options and fills in defaults; throws `EINVAL` naming the first bad value. */
export function resolveOptions(options: TraceBufferOptions | undefined): TraceBufferConfig {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') invalid('options must be an object', 'options', options);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) invalid('unknown option', 'option', key);
  }
  const cpus = options.cpus ?? availableParallelism();
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) invalid(`cpus must be an integer 1..${MAX_CPUS}`, 'cpus', cpus);
  const subbufSize = options.subbufSize ?? DEFAULTS.subbufSize;
  if (
    !Number.isInteger(subbufSize) ||
    subbufSize < MIN_SUBBUF_SIZE ||
    subbufSize > MAX_SUBBUF_SIZE ||
    (subbufSize & (subbufSize - 1)) !== 0
  ) {
    invalid(`subbufSize must be a power of two ${MIN_SUBBUF_SIZE}..${MAX_SUBBUF_SIZE}`, 'subbufSize', subbufSize);
  }
  const nrSubbufs = options.nrSubbufs ?? DEFAULTS.nrSubbufs;
  if (!Number.isInteger(nrSubbufs) || nrSubbufs < MIN_NR_SUBBUFS || nrSubbufs > 1 << 20) {
    invalid(`nrSubbufs must be an integer ${MIN_NR_SUBBUFS}..${1 << 20}`, 'nrSubbufs', nrSubbufs);
  }
  const overwrite = options.overwrite ?? DEFAULTS.overwrite;
  if (typeof overwrite !== 'boolean') invalid('overwrite must be a boolean', 'overwrite', overwrite);
  const clock = options.clock ?? DEFAULTS.clock;
  if (clock !== ClockName.MONO && clock !== ClockName.COUNTER) invalid("clock must be 'mono' or 'counter'", 'clock', clock);
  const bufferPercent = options.bufferPercent ?? DEFAULTS.bufferPercent;
  if (!Number.isInteger(bufferPercent) || bufferPercent < 0 || bufferPercent > 100) {
    invalid('bufferPercent must be an integer 0..100', 'bufferPercent', bufferPercent);
  }
  return { cpus, subbufSize, nrSubbufs, overwrite, clock, bufferPercent };
}

function isSab(value: unknown, length?: number): value is SharedArrayBuffer {
  return value instanceof SharedArrayBuffer && (length === undefined || value.byteLength === length);
}

/** Checks that `handle` is a tracebuf handle (structurally); throws `EINVAL` otherwise. */
function checkHandle(handle: unknown): TraceBufferHandle {
  const h = handle as Partial<TraceBufferHandle> | null;
  if (h === null || typeof h !== 'object' || h.kind !== 'tracebuf' || h.version !== 1) {
    invalid('not a tracebuf handle', 'handle', handle);
  }
  let config: TraceBufferConfig;
  try {
    config = resolveOptions(h.config);
  } catch (err) {
    throw new TraceBufferError(ErrorCode.EINVAL, `handle has a bad config: ${(err as Error).message}`);
  }
  if (!isSab(h.global, GLOBAL_CONTROL_LENGTH) || new Int32Array(h.global)[MAGIC_INDEX] !== CONTROL_MAGIC) {
    invalid('handle has no tracebuf control block', 'handle.global', h.global);
  }
  const g: Geometry = config;
  if (!Array.isArray(h.cpus) || h.cpus.length !== config.cpus) invalid('handle cpus do not match its config', 'handle.cpus', h.cpus);
  for (const [i, c] of h.cpus.entries()) {
    const entry = c as { data?: unknown; control?: unknown } | null;
    if (entry === null || typeof entry !== 'object' || !isSab(entry.data, cpuDataLength(g)) || !isSab(entry.control, cpuControlLength(g.nrSubbufs))) {
      invalid('handle has a bad cpu buffer', `handle.cpus[${i}]`, c);
    }
  }
  return h as TraceBufferHandle;
}

/**
 * A tracing ring buffer for worker threads: one ring of sub-buffers per cpu slot, in
 * SharedArrayBuffers, in the kernel's byte format and mmap layout.
 *
 * ```ts
 * const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 16 });
 * const p = tb.producer();
 * p.write(new TextEncoder().encode('hello'));
 * const m = tb.map(p.cpu);
 * m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
 * ```
 */
export class TraceBuffer implements MappingHost {
  /** The resolved configuration. */
  readonly config: TraceBufferConfig;
  /** The structured-cloneable handle: send it to a worker and `TraceBuffer.attach()` it there. */
  readonly handle: TraceBufferHandle;

  readonly #cpus: readonly CpuBuffer[];
  readonly #global: Int32Array;
  readonly #ctx: ProducerContext;
  readonly #monoOffsetNs: number;
  readonly #producers = new Set<Producer>();

  private constructor(handle: TraceBufferHandle, cpus: readonly CpuBuffer[]) {
    this.handle = handle;
    this.config = handle.config;
    this.#cpus = cpus;
    this.#global = new Int32Array(handle.global);
    const created = new Float64Array(handle.global)[CREATED_HR_F64_INDEX]!;
    this.#monoOffsetNs = monoOffsetNs(created);
    this.#ctx = {
      overwrite: handle.config.overwrite,
      clockKind: handle.config.clock === ClockName.MONO ? ClockKind.MONO : ClockKind.COUNTER,
      monoOffsetNs: this.#monoOffsetNs,
      global: this.#global,
      onRelease: (p) => this.#producers.delete(p),
    };
  }

  /** Creates a buffer. Throws `EINVAL` naming the first bad option; allocates nothing then. */
  static create(options?: TraceBufferOptions): TraceBuffer {
    const config = resolveOptions(options);
    const global = new SharedArrayBuffer(GLOBAL_CONTROL_LENGTH);
    const g = new Int32Array(global);
    g[MAGIC_INDEX] = CONTROL_MAGIC;
    new Float64Array(global)[CREATED_HR_F64_INDEX] = hrNowNs();
    const cpus: CpuBuffer[] = [];
    for (let cpu = 0; cpu < config.cpus; cpu++) cpus.push(CpuBuffer.allocate(cpu, config));
    const handle: TraceBufferHandle = {
      kind: 'tracebuf',
      version: 1,
      config,
      global,
      cpus: cpus.map((c) => ({ data: c.data, control: c.control })),
    };
    return new TraceBuffer(handle, cpus);
  }

  /** The same buffer in this thread, from a handle made anywhere. `EINVAL` if it is not one. */
  static attach(handle: TraceBufferHandle): TraceBuffer {
    const h = checkHandle(handle);
    const cpus = h.cpus.map((c, cpu) => new CpuBuffer(cpu, h.config, c.data, c.control));
    return new TraceBuffer(h, cpus);
  }

  /** Number of cpu slots. */
  get cpus(): number {
    return this.config.cpus;
  }

  /** The CPU buffer of slot `cpu` (internal structures; for tests and tools). */
  cpuBuffer(cpu: number): CpuBuffer {
    this.#checkCpu(cpu);
    return this.#cpus[cpu]!;
  }

  #checkCpu(cpu: unknown): asserts cpu is number {
    if (!Number.isInteger(cpu) || (cpu as number) < 0 || (cpu as number) >= this.config.cpus) {
      invalid(`cpu must be an integer 0..${this.config.cpus - 1}`, 'cpu', cpu);
    }
  }

  /** The buffer clock now (ns since creation for `mono`, the last sequence for `counter`). */
  now(): number {
    return this.#ctx.clockKind === ClockKind.MONO ? monoNow(this.#monoOffsetNs) : counterPeek(this.#global);
  }

  /**
   * Claims a cpu slot for writing: slot `cpu`, or the first free one. `EBUSY` when the slot (or
   * every slot) is taken; `EINVAL` for a cpu out of range. Release it with `producer.release()`.
   */
  producer(cpu?: number): Producer {
    if (cpu !== undefined) this.#checkCpu(cpu);
    const token = Atomics.add(this.#global, NEXT_TOKEN_INDEX, 1) + 1 || 1;
    const slots = cpu === undefined ? this.#cpus : [this.#cpus[cpu]!];
    for (const cb of slots) {
      if (Atomics.compareExchange(cb.ctl, CLAIM_INDEX, 0, token) === 0) {
        const p = new Producer(cb, this.#ctx, token);
        this.#producers.add(p);
        return p;
      }
    }
    if (cpu !== undefined) throw new TraceBufferError(ErrorCode.EBUSY, `cpu slot already claimed: cpu=${cpu}`);
    throw new TraceBufferError(ErrorCode.EBUSY, `no free cpu slot: cpus=${this.config.cpus}`);
  }

  /**
   * Maps CPU buffer `cpu` read-only (kernel `mmap` of `trace_pipe_raw`): the whole object, or
   * the byte `range` of it, checked as the kernel checks an mmap (`EINVAL`).
   */
  map(cpu: number, range?: MapRange): Mapping {
    this.#checkCpu(cpu);
    return new Mapping(this.#cpus[cpu]!, this, range);
  }

  /** Wakes every waiter of `cpu` (also what `ioctl(0)` does). */
  wake(cpu: number): void {
    this.#checkCpu(cpu);
    this.#wakeCpu(this.#cpus[cpu]!);
  }

  #wakeCpu(cb: CpuBuffer): void {
    cb.wake();
  }

  /** Turns recording on or off for every CPU buffer (`tracing_on`); off wakes every waiter. */
  setRecording(on: boolean): void {
    if (typeof on !== 'boolean') invalid('recording must be a boolean', 'on', on);
    for (const cb of this.#cpus) {
      cb.setRecording(on);
      if (!on) this.#wakeCpu(cb);
    }
  }

  /** True while recording is on (checked on slot 0; `setRecording` sets every slot). */
  get recording(): boolean {
    return this.#cpus[0]!.recording();
  }

  /**
   * Empties every CPU buffer, or only `cpu` (`echo > trace`). Allowed while mapped: the meta
   * page is refreshed at once. Producers in other threads keep running; a reservation made
   * before the reset is dropped at its commit.
   */
  reset(cpu?: number): void {
    if (cpu !== undefined) this.#checkCpu(cpu);
    for (const cb of cpu === undefined ? this.#cpus : [this.#cpus[cpu]!]) cb.reset();
  }

  /** The counters of CPU buffer `cpu` (`per_cpu/cpuN/stats`). `EINVAL` for a cpu out of range. */
  stats(cpu: number): CpuStats {
    this.#checkCpu(cpu);
    const cb = this.#cpus[cpu]!;
    cb.lockReader();
    try {
      const w = cb.writerSnapshot();
      const ctl = cb.ctl;
      const read = read64(ctl, READ_INDEX);
      const reader = ctl[READER_PAGE_INDEX]!;
      const oldestPage = w.tailPage === reader ? reader : this.#headPage(cb);
      return {
        entries: w.entries - w.overrun - read,
        overrun: w.overrun,
        commitOverrun: ctl[COMMIT_OVERRUN_INDEX]! >>> 0,
        bytes: w.entriesBytes - read64(ctl, READ_BYTES_INDEX),
        oldestEventTs: cb.pageTimeStamp(oldestPage),
        nowTs: this.now(),
        droppedEvents: w.droppedEvents,
        readEvents: read,
        committed: w.entries,
        pagesTouched: w.pagesTouched,
        pagesLost: w.pagesLost,
        pagesRead: ctl[PAGES_READ_INDEX]! >>> 0,
        lostUnreported: read64(ctl, LOST_UNREPORTED_INDEX),
      };
    } finally {
      cb.unlockReader();
    }
  }

  #headPage(cb: CpuBuffer): number {
    // The head is where a HEAD (or UPDATE, mid-push) link points.
    for (let id = 0; id < cb.nrSubbufs; id++) {
      const link = Atomics.load(cb.ctl, cb.nextBase + id);
      if ((link & PAGE_FLAG_MASK) !== PageFlag.NORMAL) return link >>> PAGE_LINK_SHIFT;
    }
    return cb.ctl[READER_PAGE_INDEX]!;
  }

  /**
   * Synchronously hands every committed, unread event of every CPU buffer to `sink`, CPU by CPU
   * in commit order, consuming them as GET_READER does (usable from `process.on('exit')` or
   * after a worker crash: nothing that was committed is lost). Returns the number of events.
   */
  drainTo(sink: DrainSink | ((cpu: number, timestamp: number, payload: Uint8Array) => void), options: DrainOptions = {}): number {
    const target: DrainSink = typeof sink === 'function' ? { event: sink } : sink;
    if (target === null || typeof target !== 'object' || typeof target.event !== 'function') {
      invalid('sink must be a function or have an event() method', 'sink', sink);
    }
    let count = 0;
    const r = new SubbufReader();
    for (const cb of this.#cpus) {
      if (options.recover === true && Atomics.load(cb.ctl, CLAIM_INDEX) !== 0) this.#recoverSlot(cb);
      const m = new Mapping(cb, this);
      try {
        let lastId = m.readerId;
        let lastRead = m.readerRead;
        for (;;) {
          m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
          const id = m.readerId;
          const read = m.readerRead;
          if (id === lastId && read === lastRead) break;
          const from = id === lastId && read >= lastRead ? lastRead : 0;
          r.load(m.bytes, m.subbufOffset(id), from, read);
          if (from === 0 && r.missedEvents) target.lost?.(cb.cpu, r.lostEvents);
          while (r.next()) {
            target.event(cb.cpu, r.timestamp, m.bytes.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength));
            count++;
          }
          lastId = id;
          lastRead = read;
        }
      } finally {
        m.unmap();
      }
    }
    return count;
  }

  /**
   * Takes back slot `cpu` from a producer whose thread died (crashed, or was terminated
   * mid-write). The caller asserts the owner is dead. The ring stays consistent and a
   * half-written event is never visible. Returns true when the producer died inside its
   * critical section and it had to be repaired.
   */
  recover(cpu: number): boolean {
    this.#checkCpu(cpu);
    return this.#recoverSlot(this.#cpus[cpu]!);
  }

  #recoverSlot(cb: CpuBuffer): boolean {
    for (const p of this.#producers) if (p.cpu === cb.cpu) this.#producers.delete(p);
    return cb.recoverProducer();
  }

  /**
   * Every event of every CPU buffer, merged in timestamp order, as an async iterator (like
   * reading `trace_pipe`): built on map + GET_READER + `waitAsync`. Consumes what it yields.
   * Waits for more data unless `untilEmpty`; ends when `signal` aborts.
   *
   * ```ts
   * for await (const e of tb.consume({ signal })) console.log(e.cpu, e.timestamp, e.payload);
   * ```
   */
  consume(options?: ConsumeOptions): AsyncGenerator<TraceEvent, void, undefined> {
    return consumeEvents(this, options);
  }

  /**
   * A Node `Readable` of raw sub-buffers of CPU buffer `cpu` (like reading `trace_pipe_raw`):
   * each chunk is one sub-buffer in the kernel format holding what one GET_READER handed out.
   */
  rawStream(cpu: number, options?: ConsumeOptions): Readable {
    this.#checkCpu(cpu);
    return rawStream(this, cpu, options);
  }

  /** Producers claimed through this object and not released yet. */
  get producers(): readonly Producer[] {
    return [...this.#producers];
  }

  /** Human-readable summary (for logs). */
  toString(): string {
    const c = this.config;
    return `TraceBuffer(${showValue('cpus', c.cpus)} ${showValue('subbufSize', c.subbufSize)} ${showValue('nrSubbufs', c.nrSubbufs)} ${showValue('overwrite', c.overwrite)} ${showValue('clock', c.clock)})`;
  }
}

/**
 * `TraceBuffer`: a set of per-CPU ring buffers in SharedArrayBuffers (kernel `trace_buffer`).
 *
 * @packageDocumentation
 */
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { ClockKind, ClockName, type ClockNameValue, clockKindOf, counterPeek, hrNowNs, localClockPage, monoNow, monoOffsetNs } from './clock.js';
import { type ConsumeOptions, ReaderRanges, type TraceEvent, consumeEvents, rawStream } from './consumer.js';
import { read64 } from './counters.js';
import { CpuBuffer, cpuDataLength, relax } from './cpu-buffer.js';
import { SubbufReader } from './decoder.js';
import { ErrorCode, TraceBufferError, invalid, showValue } from './errors.js';
import {
  ADMIN_LOCK_INDEX,
  BANK_GEN_INDEX,
  CLOCK_PAGE_LENGTH,
  CLAIM_INDEX,
  COMMIT_OVERRUN_INDEX,
  CONTROL_MAGIC,
  CREATED_HR_F64_INDEX,
  LAYOUT_GEN_INDEX,
  LIVE_BANK_INDEX,
  LOST_UNREPORTED_INDEX,
  MAGIC_INDEX,
  MAX_SUBBUF_SIZE,
  MIN_NR_SUBBUFS,
  MIN_SUBBUF_SIZE,
  NEXT_TOKEN_INDEX,
  PAGES_READ_INDEX,
  READER_PAGE_INDEX,
  READ_BYTES_INDEX,
  READ_INDEX,
  ONLINE_INDEX,
  SNAPSHOT_ARMED_INDEX,
  SPARE_READY_INDEX,
  SUBBUF_DATA_OFFSET,
  anchorIndex,
  cpuControlLength,
  globalControlLength,
} from './layout.js';
import { Mapping, type MapRange, type MappingHost } from './mapping.js';
import { Producer, type ProducerContext } from './producer.js';
import { iterateEvents } from './iterate.js';
import { type DefineEventOptions, EventRegistry, type TypedEvent, defineEvent } from './registry.js';
import type { FieldSpecs } from './schema.js';
import { StringTable } from './strings.js';
import { growRing, shrinkRing } from './resize.js';

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
  /** Number of rings (cpu slots) online from the start. Default `os.availableParallelism()`. */
  cpus?: number;
  /**
   * Most cpu slots the buffer may have (the kernel's possible CPUs), `cpus`..4096. When every
   * online slot is claimed, `producer()` brings the next slot online with memory of its own (the
   * geometry of the others), as the kernel allocates a CPU buffer when a CPU comes online; slots
   * not online cost address space only. Default `max(cpus, 128)`; `maxCpus: cpus` caps the
   * buffer at its first slots (`producer()` is then `EBUSY` when all are claimed).
   */
  maxCpus?: number;
  /** Bytes per sub-buffer including the 16-byte header: a power of two, 4096..1048576. Default 4096. */
  subbufSize?: number;
  /** Sub-buffers per CPU including the reader one, at least 3. Default 256. */
  nrSubbufs?: number;
  /** Overwrite the oldest data when full (default, as the kernel); `false` drops the newest. */
  overwrite?: boolean;
  /**
   * `'mono'` (default): ns on the monotonic clock every thread shares (`performance.now()` per
   * event: ~50 ns, and it allocates); `'counter'`: a global sequence (one shared `Atomics.add`
   * per event); `'local'`: ns from a coarse shared time refined per ring — a few ns per event, no
   * allocation, each ring's stamps non-decreasing, rings ordered within one tick (1 ms) plus the
   * ticker thread's scheduling delay. See `ClockName`.
   */
  clock?: ClockNameValue;
  /** Watermark for waits, 0..100 (percent of the ring's sub-buffers dirty). Default 50. */
  bufferPercent?: number;
  /**
   * How long GET_READER lets pass (busy, touching no shared memory) before it looks, when the
   * reader is on the sub-buffer the producer writes, in ns: 0..100000. Default 0 (off). For a
   * consumer that calls GET_READER in a loop once it has caught up: back to back it reads the
   * producer's newest cache lines about every microsecond; 2000 took the producer's slowdown
   * from 1.39–1.53× to 1.31–1.42× on the test VM (benchmarks/README.md, consumer-slowdown), at
   * the price of 2 µs per call made while caught up (an empty call costs 0.16 µs unpaced; the
   * kernel's, 0.14 µs). Calls that hand out a sub-buffer the producer has left are never paced.
   */
  readerPaceNs?: number;
  /**
   * Most bytes one CPU buffer may ever take (its SharedArrayBuffers are growable up to this), for
   * `resize()`, `setSubbufSize()` and the snapshot spare. Default: 4 times the initial size, at
   * least 8 MiB. Growth beyond it is `ENOMEM`.
   */
  maxBytesPerCpu?: number;
}

/** The resolved configuration of a buffer, as created (see `geometry(cpu)` for the current one). */
export interface TraceBufferConfig {
  /** Slots online at creation (`tb.cpus` is the number online now). */
  readonly cpus: number;
  /** Most slots that can come online (absent in handles made before it existed: `cpus`). */
  readonly maxCpus?: number;
  readonly subbufSize: number;
  readonly nrSubbufs: number;
  readonly overwrite: boolean;
  readonly clock: ClockNameValue;
  readonly bufferPercent: number;
  readonly maxBytesPerCpu: number;
  /** Absent in handles made before this option existed: the default then. */
  readonly readerPaceNs?: number;
}

/** One bank of a CPU buffer: the mapping memory (growable) and its control block. */
export interface BankHandle {
  readonly data: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

/** The structured-cloneable description of a buffer; pass it to workers and `attach()` it. */
export interface TraceBufferHandle {
  readonly kind: 'tracebuf';
  readonly version: 2;
  readonly config: TraceBufferConfig;
  /** Buffer-wide control block with the per-CPU anchors. */
  readonly global: SharedArrayBuffer;
  /** The `local` clock's page (`clock: 'local'` only). */
  readonly clock?: SharedArrayBuffer;
  /**
   * Per possible cpu slot (`maxCpus` of them): its banks (the live one and the snapshot spare; a
   * snapshot has one). Slots not online yet have banks of 0 bytes, grown when they come online.
   */
  readonly cpus: readonly { readonly banks: readonly BankHandle[] }[];
  /** Set on a snapshot: the bank generations it was taken at (it is stale once they change). */
  readonly snapshotOf?: readonly number[];
  /** The typed-event registry shared by every thread (absent in handles made before it existed). */
  readonly events?: SharedArrayBuffer;
  /** The string table shared by every thread (absent in handles made before it existed). */
  readonly strings?: SharedArrayBuffer;
}

/** The current geometry of one CPU buffer. */
export interface CpuGeometry {
  readonly subbufSize: number;
  readonly nrSubbufs: number;
}

/** `tb.stats(cpu)`: the kernel's `per_cpu/cpuN/stats` (kernel-semantics §7) plus a few more counters. */
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
  readerPaceNs: 0,
} as const;

const OPTION_NAMES = new Set(['cpus', 'maxCpus', 'subbufSize', 'nrSubbufs', 'overwrite', 'clock', 'bufferPercent', 'maxBytesPerCpu', 'readerPaceNs']);
const MIN_MAX_BYTES = 8 << 20;
const MAX_MAX_BYTES = 2 ** 31;
const MAX_CPUS = 4096;
/** Possible cpu slots by default: room for a worker pool several times the core count. */
const DEFAULT_MAX_CPUS = 128;

/** Validates options and fills in defaults; throws `EINVAL` naming the first bad value. */
export function resolveOptions(options: TraceBufferOptions | undefined): TraceBufferConfig {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') invalid('options must be an object', 'options', options);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) invalid('unknown option', 'option', key);
  }
  const cpus = options.cpus ?? availableParallelism();
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) invalid(`cpus must be an integer 1..${MAX_CPUS}`, 'cpus', cpus);
  const maxCpus = options.maxCpus ?? Math.max(cpus, DEFAULT_MAX_CPUS);
  if (!Number.isInteger(maxCpus) || maxCpus < cpus || maxCpus > MAX_CPUS) invalid(`maxCpus must be an integer ${cpus}..${MAX_CPUS} (at least cpus)`, 'maxCpus', maxCpus);
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
  if (clock !== ClockName.MONO && clock !== ClockName.COUNTER && clock !== ClockName.LOCAL) {
    invalid("clock must be 'mono', 'counter' or 'local'", 'clock', clock);
  }
  const bufferPercent = options.bufferPercent ?? DEFAULTS.bufferPercent;
  if (!Number.isInteger(bufferPercent) || bufferPercent < 0 || bufferPercent > 100) {
    invalid('bufferPercent must be an integer 0..100', 'bufferPercent', bufferPercent);
  }
  const initialBytes = cpuDataLength({ subbufSize, nrSubbufs });
  const maxBytesPerCpu = options.maxBytesPerCpu ?? Math.min(MAX_MAX_BYTES, Math.max(4 * initialBytes, MIN_MAX_BYTES));
  if (!Number.isInteger(maxBytesPerCpu) || maxBytesPerCpu < initialBytes || maxBytesPerCpu > MAX_MAX_BYTES) {
    invalid(`maxBytesPerCpu must be an integer ${initialBytes}..${MAX_MAX_BYTES}`, 'maxBytesPerCpu', maxBytesPerCpu);
  }
  const readerPaceNs = options.readerPaceNs ?? DEFAULTS.readerPaceNs;
  if (!Number.isInteger(readerPaceNs) || readerPaceNs < 0 || readerPaceNs > 100_000) {
    invalid('readerPaceNs must be an integer 0..100000', 'readerPaceNs', readerPaceNs);
  }
  return { cpus, maxCpus, subbufSize, nrSubbufs, overwrite, clock, bufferPercent, maxBytesPerCpu, readerPaceNs };
}

/**
 * Sub-buffers the control block of a bank has room for: enough for any geometry within
 * `maxBytesPerCpu` at the smallest sub-buffer size, but no more than 4 times the initial count
 * or 2047 (whichever is larger), so that huge limits do not cost huge control blocks.
 */
export function bankCapacity(config: TraceBufferConfig): number {
  const byBytes = Math.floor(config.maxBytesPerCpu / MIN_SUBBUF_SIZE) - 1;
  return Math.min(byBytes, Math.max(4 * config.nrSubbufs, 2047));
}

/** Thread producers given back when this thread exits (one `exit` listener for all of them). */
const atExit = new Set<Producer>();
let exitHooked = false;

function releaseAtExit(p: Producer): void {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const q of atExit) if (!q.released) q.release();
      atExit.clear();
    });
  }
  atExit.add(p);
}

function isSab(value: unknown): value is SharedArrayBuffer {
  return value instanceof SharedArrayBuffer;
}

/** Checks that `handle` is a tracebuf handle (structurally); throws `EINVAL` otherwise. */
function checkHandle(handle: unknown): TraceBufferHandle {
  const h = handle as Partial<TraceBufferHandle> | null;
  if (h === null || typeof h !== 'object' || h.kind !== 'tracebuf' || h.version !== 2) {
    invalid('not a tracebuf handle', 'handle', handle);
  }
  let config: TraceBufferConfig;
  try {
    config = resolveOptions(h.config);
  } catch (err) {
    throw new TraceBufferError(ErrorCode.EINVAL, `handle has a bad config: ${(err as Error).message}`);
  }
  const possible = config.maxCpus ?? config.cpus;
  if (!isSab(h.global) || h.global.byteLength !== globalControlLength(possible) || new Int32Array(h.global)[MAGIC_INDEX] !== CONTROL_MAGIC) {
    invalid('handle has no tracebuf control block', 'handle.global', h.global);
  }
  const online = new Int32Array(h.global)[ONLINE_INDEX]!;
  if (online < 1 || online > possible) invalid(`handle has a bad count of slots online (1..${possible})`, 'online', online);
  if (h.strings !== undefined && !isSab(h.strings)) invalid('handle has a bad string table', 'handle.strings', h.strings);
  if (h.events !== undefined && !isSab(h.events)) invalid('handle has a bad event registry', 'handle.events', h.events);
  if (!Array.isArray(h.cpus) || h.cpus.length !== possible) invalid('handle cpus do not match its config', 'handle.cpus', h.cpus);
  if (config.clock === ClockName.LOCAL && !(isSab(h.clock) && h.clock.byteLength === CLOCK_PAGE_LENGTH)) {
    invalid("handle of a 'local' clock buffer has no clock page", 'handle.clock', h.clock);
  }
  const controlLength = cpuControlLength(bankCapacity(config));
  for (const [i, c] of h.cpus.entries()) {
    const banks = (c as { banks?: unknown } | null)?.banks;
    const ok =
      Array.isArray(banks) &&
      banks.length === (h.snapshotOf === undefined ? 2 : 1) &&
      banks.every(
        (b: Partial<BankHandle> | null) =>
          b !== null && isSab(b.data) && b.data.growable && isSab(b.control) && (b.control.growable ? b.control.maxByteLength : b.control.byteLength) === controlLength,
      );
    if (!ok) invalid('handle has a bad cpu buffer', `handle.cpus[${i}]`, c);
  }
  return h as TraceBufferHandle;
}

/** A cpu slot in this thread: its banks, its anchor, and the view of the live bank. */
interface Slot {
  readonly cpu: number;
  readonly banks: readonly BankHandle[];
  /** Int32 index of the slot's anchor in the buffer control block. */
  readonly anchor: number;
  cb: CpuBuffer;
  gen: number;
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
  /** The configuration the buffer was created with (see {@link geometry} for the current one). */
  readonly config: TraceBufferConfig;
  /** The structured-cloneable handle: send it to a worker and `TraceBuffer.attach()` it there. */
  readonly handle: TraceBufferHandle;
  /** True for a snapshot (`tb.snapshot()`): read-only, stale once a later snapshot reuses its memory. */
  readonly isSnapshot: boolean;
  /**
   * The typed-event registry: every event `defineEvent` wrote into this buffer, from any thread.
   * `tb.events.decode(payload)` turns a consumed payload back into an object;
   * `tb.events.formats()` lists the formats (what trace.dat stores).
   */
  readonly events: EventRegistry;
  /**
   * The string table (the kernel's `printk_formats`): strings producers refer to by ID, such as a
   * log statement's message format. Shared by every thread of the buffer.
   */
  readonly strings: StringTable;

  /** Per possible slot, built in this thread when first used (`undefined` until then). */
  readonly #slots: (Slot | undefined)[];
  readonly #global: Int32Array;
  readonly #ctx: ProducerContext;
  readonly #monoOffsetNs: number;
  readonly #producers = new Set<Producer>();

  private constructor(handle: TraceBufferHandle) {
    this.handle = handle;
    this.config = handle.config;
    this.isSnapshot = handle.snapshotOf !== undefined;
    this.events = new EventRegistry(handle.events ?? EventRegistry.allocate());
    this.strings = new StringTable(handle.strings ?? StringTable.allocate());
    this.#global = new Int32Array(handle.global);
    this.#slots = handle.cpus.map(() => undefined);
    for (let cpu = 0; cpu < this.cpus; cpu++) this.#slot(cpu);
    const created = new Float64Array(handle.global)[CREATED_HR_F64_INDEX]!;
    this.#monoOffsetNs = monoOffsetNs(created);
    this.#ctx = {
      overwrite: handle.config.overwrite,
      clockKind: clockKindOf(handle.config.clock),
      monoOffsetNs: this.#monoOffsetNs,
      clockPage: handle.clock,
      createdHrNs: created,
      global: this.#global,
      live: (cpu) => this.#live(cpu),
      claimIndex: (cpu) => anchorIndex(cpu) + CLAIM_INDEX,
      onRelease: (p) => {
        this.#producers.delete(p);
        atExit.delete(p);
      },
      events: this.events,
    };
  }

  /** Creates a buffer. Throws `EINVAL` naming the first bad option; allocates nothing then. */
  static create(options?: TraceBufferOptions): TraceBuffer {
    const config = resolveOptions(options);
    const possible = config.maxCpus ?? config.cpus;
    const global = new SharedArrayBuffer(globalControlLength(possible));
    const g = new Int32Array(global);
    g[MAGIC_INDEX] = CONTROL_MAGIC;
    g[ONLINE_INDEX] = config.cpus;
    new Float64Array(global)[CREATED_HR_F64_INDEX] = hrNowNs();
    const capacity = bankCapacity(config);
    const max = config.maxBytesPerCpu;
    const cpus = Array.from({ length: possible }, (_, cpu) => ({
      banks:
        cpu < config.cpus
          ? [CpuBuffer.allocateBank(capacity, max, config), CpuBuffer.allocateBank(capacity, max)]
          : [CpuBuffer.reserveBank(capacity, max), CpuBuffer.reserveBank(capacity, max)],
    }));
    const clock = config.clock === ClockName.LOCAL ? localClockPage() : undefined;
    const events = EventRegistry.allocate();
    const strings = StringTable.allocate();
    return new TraceBuffer({ kind: 'tracebuf', version: 2, config, global, cpus, events, strings, ...(clock === undefined ? {} : { clock }) });
  }

  /** The same buffer in this thread, from a handle made anywhere. `EINVAL` if it is not one. */
  static attach(handle: TraceBufferHandle): TraceBuffer {
    return new TraceBuffer(checkHandle(handle));
  }

  /**
   * Number of cpu slots online now: slots `0..cpus−1`. It grows (up to {@link maxCpus}) when a
   * producer finds every slot claimed; consumers that loop over the slots read it again to find
   * the new ones.
   */
  get cpus(): number {
    return this.isSnapshot ? this.config.cpus : Atomics.load(this.#global, ONLINE_INDEX);
  }

  /** Most cpu slots this buffer can have (the `maxCpus` option: the kernel's possible CPUs). */
  get maxCpus(): number {
    return this.config.maxCpus ?? this.config.cpus;
  }

  /** Slot `cpu` (online) in this thread, its view built at first use. */
  #slot(cpu: number): Slot {
    let slot = this.#slots[cpu];
    if (slot === undefined) {
      const banks = this.handle.cpus[cpu]!.banks;
      const anchor = anchorIndex(cpu);
      if (this.isSnapshot) {
        slot = { cpu, banks, anchor, cb: new CpuBuffer(cpu, banks[0]!.data, banks[0]!.control), gen: 0 };
      } else {
        slot = { cpu, banks, anchor, cb: undefined as unknown as CpuBuffer, gen: -1 };
        this.#rebuild(slot);
      }
      this.#slots[cpu] = slot;
    }
    return slot;
  }

  /** The slots online now, in order. */
  #online(): Slot[] {
    const slots: Slot[] = [];
    for (let cpu = 0, n = this.cpus; cpu < n; cpu++) slots.push(this.#slot(cpu));
    return slots;
  }

  /**
   * Brings slot `n` (the first one offline) online, holding the admin lock: gives both banks
   * their control blocks, lays out a fresh ring in the live one with the geometry the kernel
   * gives a CPU coming online (the other CPU buffers' size when they all agree, else the
   * smallest ring; `trace_rb_cpu_prepare`), copies the recording switch, prepares the snapshot
   * spare while one is armed, then publishes the new count. `ENOMEM` when the memory cannot
   * be had; the slot stays offline then.
   */
  #bringOnline(n: number): void {
    const first = this.#live(0);
    let nrSubbufs = first.nrSubbufs;
    for (let cpu = 1; cpu < n; cpu++) if (this.#live(cpu).nrSubbufs !== nrSubbufs) nrSubbufs = MIN_NR_SUBBUFS;
    const banks = this.handle.cpus[n]!.banks;
    try {
      for (const bank of banks) CpuBuffer.commitControl(bank.control, bankCapacity(this.config));
      CpuBuffer.initialize(banks[0]!.data, banks[0]!.control, { subbufSize: first.subbufSize, nrSubbufs });
    } catch (err) {
      if (err instanceof TraceBufferError) throw err;
      throw new TraceBufferError(ErrorCode.ENOMEM, `cannot bring cpu slot ${n} online (${(err as Error).message}): cpu=${n}`);
    }
    const cb = new CpuBuffer(n, banks[0]!.data, banks[0]!.control);
    cb.setRecording(first.recording());
    if (Atomics.load(this.#global, SNAPSHOT_ARMED_INDEX) > 0) this.#prepareSpare(this.#slot(n));
    Atomics.store(this.#global, ONLINE_INDEX, n + 1);
    // Consumers waiting on the other slots look again and find this one (followSlots).
    for (let cpu = 0; cpu < n; cpu++) this.#live(cpu).wake();
  }

  /**
   * The live bank of slot `cpu`, rebuilt when a resize or a snapshot swap changed it. Callers that
   * need it stable take its reader lock and check {@link #stillLive} (see {@link #withReader}).
   */
  #live(cpu: number): CpuBuffer {
    const slot = this.#slot(cpu);
    if (this.isSnapshot) {
      if (Atomics.load(slot.cb.ctl, BANK_GEN_INDEX) !== this.handle.snapshotOf![cpu]) {
        throw new TraceBufferError(ErrorCode.ESTALE, `snapshot memory was reused by a later snapshot: cpu=${cpu}`);
      }
      return slot.cb;
    }
    const gen = Atomics.load(this.#global, slot.anchor + LAYOUT_GEN_INDEX);
    // Odd: a swap or geometry change is in progress. Its old bank has producers shut out (its
    // control word says so) and readers wait on its lock; the new view is built once it is done.
    if (gen !== slot.gen && ((gen & 1) === 0 || slot.gen < 0)) this.#rebuild(slot);
    return slot.cb;
  }

  /**
   * Builds the view of the live bank of `slot` inside a seqlock round on `layout_gen`: the
   * generation is odd while a swap or a geometry change is in progress and moves on after it,
   * so a view built from a bank that stopped being live meanwhile (and may be re-initialised
   * under it by the next snapshot) is thrown away and built again.
   */
  #rebuild(slot: Slot): void {
    const at = slot.anchor + LAYOUT_GEN_INDEX;
    let since = 0;
    for (let round = 0; ; round++) {
      const gen = Atomics.load(this.#global, at);
      if ((gen & 1) === 0) {
        const bank = slot.banks[Atomics.load(this.#global, slot.anchor + LIVE_BANK_INDEX)]!;
        let cb: CpuBuffer | undefined;
        try {
          cb = new CpuBuffer(slot.cpu, bank.data, bank.control);
        } catch (err) {
          if (Atomics.load(this.#global, at) === gen) throw err;
        }
        if (cb !== undefined && Atomics.load(this.#global, at) === gen) {
          slot.cb = cb;
          slot.gen = gen;
          return;
        }
      }
      // A change takes a few stores per CPU; EFAULT after a second (its thread died inside it).
      since = relax(round, since, `layout of cpu ${slot.cpu}`, 'a snapshot swap or geometry change');
    }
  }

  #stillLive(cpu: number, cb: CpuBuffer): boolean {
    const slot = this.#slot(cpu);
    return this.isSnapshot || (Atomics.load(this.#global, slot.anchor + LAYOUT_GEN_INDEX) === slot.gen && slot.cb === cb);
  }

  /** Runs `fn` on the live bank of `cpu` under its reader lock, the bank checked still live. */
  #withReader<T>(cpu: number, fn: (cb: CpuBuffer) => T): T {
    for (;;) {
      const cb = this.#live(cpu);
      cb.lockReader();
      try {
        if (this.#stillLive(cpu, cb)) return fn(cb);
      } finally {
        cb.unlockReader();
      }
    }
  }

  /** The live CPU buffer of slot `cpu` (internal structures; for tests and tools). */
  cpuBuffer(cpu: number): CpuBuffer {
    this.#checkCpu(cpu);
    return this.#live(cpu);
  }

  /** The current sub-buffer size and count of CPU buffer `cpu`. */
  geometry(cpu: number): CpuGeometry {
    this.#checkCpu(cpu);
    const cb = this.#live(cpu);
    return { subbufSize: cb.subbufSize, nrSubbufs: cb.nrSubbufs };
  }

  /** `EINVAL` unless `cpu` is a slot online now. */
  #checkCpu(cpu: unknown): asserts cpu is number {
    const n = this.cpus;
    if (!Number.isInteger(cpu) || (cpu as number) < 0 || (cpu as number) >= n) {
      invalid(`cpu must be an integer 0..${n - 1} (the slots online)`, 'cpu', cpu);
    }
  }

  /** `EINVAL` unless `cpu` is a possible slot (online or not). */
  #checkPossible(cpu: unknown): asserts cpu is number {
    const n = this.maxCpus;
    if (!Number.isInteger(cpu) || (cpu as number) < 0 || (cpu as number) >= n) {
      invalid(`cpu must be an integer 0..${n - 1} (maxCpus=${n})`, 'cpu', cpu);
    }
  }

  #checkWritable(what: string): void {
    if (this.isSnapshot) throw new TraceBufferError(ErrorCode.EPERM, `a snapshot is read-only: operation=${what}`);
  }

  /** The buffer clock now (ns since creation for `mono`, the last sequence for `counter`). */
  now(): number {
    return this.#ctx.clockKind === ClockKind.COUNTER ? counterPeek(this.#global) : monoNow(this.#monoOffsetNs);
  }

  /**
   * This thread's shared producer of this buffer, for libraries that write from whatever thread
   * calls them (`@tracebuf/log`, `@tracebuf/telemetry`): claimed on first use (slot `cpu`, or the
   * first free one; `EBUSY` when none is), kept for the thread's life, given back when the thread
   * exits. Every caller in the thread gets the same producer, so a thread takes one slot.
   */
  threadProducer(cpu?: number): Producer {
    const p = this.#threadProducer;
    if (p !== undefined && !p.released) return p;
    const claimed = this.producer(cpu);
    this.#threadProducer = claimed;
    releaseAtExit(claimed);
    return claimed;
  }

  #threadProducer: Producer | undefined;

  /**
   * Claims a cpu slot for writing: slot `cpu`, or the first free one. When every online slot is
   * claimed, the next slot comes online for it (up to `maxCpus`; a `cpu` not online yet brings
   * the slots up to it online). `EBUSY` when the slot is taken, or every one of `maxCpus` is;
   * `EINVAL` for a cpu out of range; `ENOMEM` when a slot's memory cannot be had; `EPERM` on a
   * snapshot. Release it with `producer.release()`.
   */
  producer(cpu?: number): Producer {
    if (cpu !== undefined) this.#checkPossible(cpu);
    this.#checkWritable('producer');
    const token = Atomics.add(this.#global, NEXT_TOKEN_INDEX, 1) + 1 || 1;
    if (cpu !== undefined) {
      if (cpu >= this.cpus) {
        this.#admin(() => {
          for (let n = this.cpus; n <= cpu; n++) this.#bringOnline(n);
        });
      }
      if (this.#claim(cpu, token)) return this.#claimed(cpu, token);
      throw new TraceBufferError(ErrorCode.EBUSY, `cpu slot already claimed: cpu=${cpu}`);
    }
    for (;;) {
      const n = this.cpus;
      for (let c = 0; c < n; c++) if (this.#claim(c, token)) return this.#claimed(c, token);
      if (n >= this.maxCpus) throw new TraceBufferError(ErrorCode.EBUSY, `no free cpu slot: cpus=${n} (maxCpus=${this.maxCpus})`);
      // Every slot claimed: bring the next one online, claimed for us before anyone can see it.
      const claimed = this.#admin(() => {
        if (this.cpus !== n) return false; // another thread brought one online: look again
        const claim = anchorIndex(n) + CLAIM_INDEX;
        Atomics.store(this.#global, claim, token);
        try {
          this.#bringOnline(n);
        } catch (err) {
          Atomics.store(this.#global, claim, 0);
          throw err;
        }
        return true;
      });
      if (claimed) return this.#claimed(n, token);
    }
  }

  #claim(cpu: number, token: number): boolean {
    return Atomics.compareExchange(this.#global, anchorIndex(cpu) + CLAIM_INDEX, 0, token) === 0;
  }

  #claimed(cpu: number, token: number): Producer {
    const p = new Producer(this.#live(cpu), this.#ctx, token);
    this.#producers.add(p);
    return p;
  }

  /**
   * The claim token of slot `cpu` (any of the `maxCpus`): 0 when free (always, for a slot not
   * online), else the token of the producer that holds it.
   */
  claimToken(cpu: number): number {
    this.#checkPossible(cpu);
    return Atomics.load(this.#global, anchorIndex(cpu) + CLAIM_INDEX);
  }

  /** Runs `fn` holding the buffer-wide admin lock (snapshot, resize, map bookkeeping). */
  #admin<T>(fn: () => T): T {
    const g = this.#global;
    for (let spins = 0; Atomics.compareExchange(g, ADMIN_LOCK_INDEX, 0, 1) !== 0; spins++) {
      if (spins > 1000 && !isMainThread) Atomics.wait(g, ADMIN_LOCK_INDEX, 1, 1);
    }
    try {
      return fn();
    } finally {
      Atomics.store(g, ADMIN_LOCK_INDEX, 0);
      Atomics.notify(g, ADMIN_LOCK_INDEX, 1);
    }
  }

  /**
   * Maps CPU buffer `cpu` read-only (kernel `mmap` of `trace_pipe_raw`): the whole object, or
   * the byte `range` of it, checked as the kernel checks an mmap (`EINVAL`). `EBUSY` while a
   * snapshot is armed (the kernel refuses to map then).
   */
  map(cpu: number, range?: MapRange): Mapping {
    this.#checkCpu(cpu);
    return this.#map(cpu, range, false);
  }

  /** A mapping for tracebuf's own consumers: not refused while a snapshot is armed. */
  #map(cpu: number, range: MapRange | undefined, internal: boolean): Mapping {
    return this.#admin(() => {
      if (!internal && Atomics.load(this.#global, SNAPSHOT_ARMED_INDEX) > 0) {
        throw new TraceBufferError(ErrorCode.EBUSY, `a snapshot is armed: cpu=${cpu}`);
      }
      return new Mapping(this.#live(cpu), this, range);
    });
  }

  /** @internal The mapping tracebuf's consumers (consume, rawStream, drainTo) use. */
  mapInternal(cpu: number): Mapping {
    this.#checkCpu(cpu);
    return this.#map(cpu, undefined, true);
  }

  /** Wakes every waiter of `cpu` (also what `ioctl(0)` does). */
  wake(cpu: number): void {
    this.#checkCpu(cpu);
    this.#live(cpu).wake();
  }

  /** Turns recording on or off for every CPU buffer (`tracing_on`); off wakes every waiter. */
  setRecording(on: boolean): void {
    if (typeof on !== 'boolean') invalid('recording must be a boolean', 'on', on);
    // Under the admin lock: a slot coming online copies the switch from slot 0.
    this.#admin(() => {
      for (const slot of this.#online()) {
        // Every bank of the slot, so that a snapshot swap keeps the setting.
        for (const bank of slot.banks) {
          if (bank.data.byteLength === 0) continue;
          const cb = new CpuBuffer(slot.cpu, bank.data, bank.control);
          cb.setRecording(on);
          if (!on) cb.wake();
        }
      }
    });
  }

  /** True while recording is on (checked on slot 0; `setRecording` sets every slot). */
  get recording(): boolean {
    return this.#live(0).recording();
  }

  /**
   * Empties every CPU buffer, or only `cpu` (`echo > trace`). Allowed while mapped: the meta
   * page is refreshed at once. Producers in other threads keep running; a reservation made
   * before the reset is dropped at its commit.
   */
  reset(cpu?: number): void {
    if (cpu !== undefined) this.#checkCpu(cpu);
    for (const slot of cpu === undefined ? this.#online() : [this.#slot(cpu)]) {
      for (;;) {
        const cb = this.#live(slot.cpu);
        cb.reset();
        if (this.#stillLive(slot.cpu, cb)) break;
      }
    }
  }

  /** The counters of CPU buffer `cpu` (`per_cpu/cpuN/stats`). `EINVAL` for a cpu out of range. */
  stats(cpu: number): CpuStats {
    this.#checkCpu(cpu);
    return this.#withReader(cpu, (cb) => {
      const w = cb.writerSnapshot();
      const ctl = cb.ctl;
      const read = read64(ctl, READ_INDEX);
      const reader = ctl[READER_PAGE_INDEX]!;
      const oldestPage = w.tailPage === reader ? reader : cb.headPage();
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
    });
  }

  /**
   * Synchronously hands every committed, unread event of every CPU buffer to `sink`, CPU by CPU
   * in commit order, consuming them as GET_READER does (usable from `process.on('exit')` or
   * after a worker crash: nothing that was committed is lost). It stops once every event
   * committed before the call was handed over or overwritten, so a producer that keeps writing
   * cannot keep it going. Returns the number of events.
   */
  drainTo(sink: DrainSink | ((cpu: number, timestamp: number, payload: Uint8Array) => void), options: DrainOptions = {}): number {
    const target: DrainSink = typeof sink === 'function' ? { event: sink } : sink;
    if (target === null || typeof target !== 'object' || typeof target.event !== 'function') {
      invalid('sink must be a function or have an event() method', 'sink', sink);
    }
    let count = 0;
    const r = new SubbufReader();
    for (const slot of this.#online()) {
      if (options.recover === true && !this.isSnapshot && Atomics.load(this.#global, slot.anchor + CLAIM_INDEX) !== 0) {
        this.#recoverSlot(slot.cpu);
      }
      const m = this.mapInternal(slot.cpu);
      try {
        // Everything committed before this call, and no more: with a producer writing faster
        // than the sink takes events, "until empty" would never come.
        const committed = this.#withReader(slot.cpu, (cb) => cb.writerSnapshot().entries);
        const ranges = new ReaderRanges(m);
        for (let done = false; !done && ranges.next(); ) {
          r.load(m.bytes, m.subbufOffset(ranges.id), ranges.from, ranges.read);
          if (ranges.from === 0 && r.missedEvents) target.lost?.(slot.cpu, r.lostEvents);
          while (r.next()) {
            target.event(slot.cpu, r.timestamp, m.bytes.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength));
            count++;
          }
          const meta = m.meta;
          done = meta.read + meta.overrun >= committed;
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
    this.#checkWritable('recover');
    return this.#recoverSlot(cpu);
  }

  #recoverSlot(cpu: number): boolean {
    for (const p of this.#producers) if (p.cpu === cpu) this.#producers.delete(p);
    const repaired = this.#live(cpu).recoverProducer();
    Atomics.store(this.#global, this.#slot(cpu).anchor + CLAIM_INDEX, 0);
    return repaired;
  }

  // ----------------------------------------------------------------------------------------------
  // Snapshot, resize (kernel-semantics §1.3, §5.7)
  // ----------------------------------------------------------------------------------------------

  /** Throws `EBUSY` when a CPU buffer among `cpus` is mapped (tracebuf's own consumers included). */
  #checkUnmapped(cpus: readonly number[], what: string): void {
    for (const cpu of cpus) {
      if (!this.#live(cpu).unmapped()) throw new TraceBufferError(ErrorCode.EBUSY, `${what} while mapped: cpu=${cpu}`);
    }
  }

  /**
   * Makes the spare bank of `slot` a fresh, empty ring with the live geometry (growing it if
   * needed), unless it already is one.
   */
  #prepareSpare(slot: Slot): void {
    const live = this.#live(slot.cpu);
    const spareIndex = 1 - Atomics.load(this.#global, slot.anchor + LIVE_BANK_INDEX);
    const spare = slot.banks[spareIndex]!;
    const ready = Atomics.load(this.#global, slot.anchor + SPARE_READY_INDEX) === 1;
    if (ready) {
      const cb = new CpuBuffer(slot.cpu, spare.data, spare.control);
      if (cb.subbufSize === live.subbufSize && cb.nrSubbufs === live.nrSubbufs) return;
    }
    CpuBuffer.initialize(spare.data, spare.control, { subbufSize: live.subbufSize, nrSubbufs: live.nrSubbufs });
    const spareCb = new CpuBuffer(slot.cpu, spare.data, spare.control);
    spareCb.setRecording(live.recording());
    Atomics.store(this.#global, slot.anchor + SPARE_READY_INDEX, 1);
  }

  /**
   * Arms a snapshot trigger (`echo 1 > snapshot` allocates the spare; a `snapshot` event trigger
   * arms it): prepares the spare rings now, so that a later `snapshot()` — from any thread, e.g.
   * a producer on an error — only swaps. While armed, `map()` is `EBUSY`; arming while any CPU
   * buffer is mapped is `EBUSY` (kernel-semantics §5.7). Counts: disarm as often as armed.
   */
  armSnapshot(): void {
    this.#checkWritable('armSnapshot');
    this.#admin(() => {
      const slots = this.#online();
      this.#checkUnmapped(slots.map((s) => s.cpu), 'cannot arm a snapshot');
      for (const slot of slots) this.#prepareSpare(slot);
      Atomics.add(this.#global, SNAPSHOT_ARMED_INDEX, 1);
    });
  }

  /**
   * Disarms one armed snapshot trigger. When none is left armed, `map()` works again. The spare
   * memory stays reserved (a SharedArrayBuffer cannot shrink) for the next snapshot. `EINVAL`
   * when nothing is armed.
   */
  disarmSnapshot(): void {
    this.#checkWritable('disarmSnapshot');
    this.#admin(() => {
      if (Atomics.load(this.#global, SNAPSHOT_ARMED_INDEX) === 0) {
        throw new TraceBufferError(ErrorCode.EINVAL, 'no snapshot is armed: armed=0');
      }
      Atomics.sub(this.#global, SNAPSHOT_ARMED_INDEX, 1);
    });
  }

  /** Number of armed snapshot triggers. */
  get snapshotArmed(): number {
    return Atomics.load(this.#global, SNAPSHOT_ARMED_INDEX);
  }

  /**
   * Takes a snapshot (kernel `snapshot` buffer): every CPU buffer's live bank is swapped with its
   * spare, so recording goes on at once into fresh, empty rings while the returned buffer holds
   * everything that was in them — readable at leisure with the same API (map, consume,
   * drainTo, stats, formats), read-only (`EPERM` for producers). Producers are shut out only
   * for the swap itself (the spare is prepared first, or by `armSnapshot()`). `EBUSY` while any
   * CPU buffer is mapped. The snapshot stays valid until the next snapshot reuses its memory
   * (then `ESTALE`).
   */
  snapshot(): TraceBuffer {
    this.#checkWritable('snapshot');
    return this.#admin(() => {
      const slots = this.#online();
      this.#checkUnmapped(slots.map((s) => s.cpu), 'cannot take a snapshot');
      for (const slot of slots) this.#prepareSpare(slot);
      // Shut every CPU's producers out, swap all, let them in: the CPUs are cut at one moment.
      const olds = slots.map((slot) => {
        const cb = this.#live(slot.cpu);
        cb.lockReader();
        try {
          cb.stopProducers();
        } catch (err) {
          cb.unlockReader();
          throw err;
        }
        return cb;
      });
      const banks: BankHandle[] = [];
      const gens: number[] = [];
      for (const [i, slot] of slots.entries()) {
        const liveIndex = Atomics.load(this.#global, slot.anchor + LIVE_BANK_INDEX);
        banks.push(slot.banks[liveIndex]!);
        gens.push(Atomics.load(olds[i]!.ctl, BANK_GEN_INDEX));
        // layout_gen odd around the flip: see #rebuild.
        Atomics.add(this.#global, slot.anchor + LAYOUT_GEN_INDEX, 1);
        Atomics.store(this.#global, slot.anchor + LIVE_BANK_INDEX, 1 - liveIndex);
        Atomics.store(this.#global, slot.anchor + SPARE_READY_INDEX, 0);
        Atomics.add(this.#global, slot.anchor + LAYOUT_GEN_INDEX, 1);
      }
      for (const cb of olds) {
        cb.resumeProducers();
        cb.unlockReader();
        cb.wake();
      }
      // The snapshot holds the slots online now, and no more can come online in it.
      const global = new SharedArrayBuffer(globalControlLength(slots.length));
      new Uint8Array(global).set(new Uint8Array(this.handle.global, 0, global.byteLength));
      const g = new Int32Array(global);
      g[ONLINE_INDEX] = slots.length;
      for (const slot of slots) {
        g[slot.anchor + LIVE_BANK_INDEX] = 0;
        g[slot.anchor + CLAIM_INDEX] = 0;
      }
      g[SNAPSHOT_ARMED_INDEX] = 0;
      g[ADMIN_LOCK_INDEX] = 0;
      return new TraceBuffer({
        kind: 'tracebuf',
        version: 2,
        config: { ...this.config, cpus: slots.length, maxCpus: slots.length },
        global,
        cpus: banks.map((bank) => ({ banks: [bank] })),
        snapshotOf: gens,
        events: this.events.sab,
        strings: this.strings.sab,
        ...(this.handle.clock === undefined ? {} : { clock: this.handle.clock }),
      });
    });
  }

  /**
   * Resizes CPU buffer `cpu` (or every CPU buffer) to `nrSubbufs` sub-buffers, keeping its
   * contents as the kernel does: new sub-buffers join the ring as free space; removed ones are
   * taken after the tail, and unread events on them count as overrun. `EBUSY` if that CPU buffer
   * (any, without `cpu`) is mapped; `EINVAL` for a bad count; `ENOMEM` beyond `maxBytesPerCpu`.
   * Producers in other threads pick the new memory up at their next write.
   */
  resize(options: { nrSubbufs: number; cpu?: number }): void {
    this.#checkWritable('resize');
    if (options === null || typeof options !== 'object') invalid('resize takes { nrSubbufs, cpu? }', 'options', options);
    const { nrSubbufs, cpu } = options;
    if (!Number.isInteger(nrSubbufs) || nrSubbufs < MIN_NR_SUBBUFS) invalid(`nrSubbufs must be an integer ≥ ${MIN_NR_SUBBUFS}`, 'nrSubbufs', nrSubbufs);
    if (cpu !== undefined) this.#checkCpu(cpu);
    this.#admin(() => {
      const cpus = cpu === undefined ? this.#online().map((s) => s.cpu) : [cpu];
      this.#checkUnmapped(cpus, 'cannot resize');
      for (const c of cpus) {
        const cb = this.#live(c);
        if (nrSubbufs > cb.capacity || cpuDataLength({ subbufSize: cb.subbufSize, nrSubbufs }) > cb.data.maxByteLength) {
          throw new TraceBufferError(ErrorCode.ENOMEM, `resize beyond maxBytesPerCpu=${this.config.maxBytesPerCpu}: nrSubbufs=${nrSubbufs}`);
        }
      }
      for (const c of cpus) this.#changeLive(c, (cb) => {
        if (nrSubbufs === cb.nrSubbufs) return;
        const length = cpuDataLength({ subbufSize: cb.subbufSize, nrSubbufs });
        if (cb.data.byteLength < length) cb.data.grow(length);
        if (nrSubbufs > cb.nrSubbufs) growRing(cb, nrSubbufs);
        else shrinkRing(cb, nrSubbufs);
      });
    });
  }

  /**
   * Changes the sub-buffer size of every CPU buffer (`buffer_subbuf_size_kb`): contents are
   * discarded and the number of sub-buffers recomputed to keep about the same capacity
   * (`ceil(old data bytes / new data size)` ring sub-buffers, at least 2), as the kernel does.
   * `EBUSY` while any CPU buffer is mapped; `EINVAL` for a size that is not a power of two in
   * 4096..1048576; `ENOMEM` beyond `maxBytesPerCpu`.
   */
  setSubbufSize(bytes: number): void {
    this.#checkWritable('setSubbufSize');
    if (!Number.isInteger(bytes) || bytes < MIN_SUBBUF_SIZE || bytes > MAX_SUBBUF_SIZE || (bytes & (bytes - 1)) !== 0) {
      invalid(`subbufSize must be a power of two ${MIN_SUBBUF_SIZE}..${MAX_SUBBUF_SIZE}`, 'subbufSize', bytes);
    }
    this.#admin(() => {
      const cpus = this.#online().map((s) => s.cpu);
      this.#checkUnmapped(cpus, 'cannot change the sub-buffer size');
      const plans = cpus.map((c) => {
        const cb = this.#live(c);
        const ringPages = cb.nrSubbufs - 1;
        const pages = Math.max(2, Math.ceil((ringPages * cb.dataSize) / (bytes - SUBBUF_DATA_OFFSET)));
        const g = { subbufSize: bytes, nrSubbufs: pages + 1 };
        if (g.nrSubbufs > cb.capacity || cpuDataLength(g) > cb.data.maxByteLength) {
          throw new TraceBufferError(ErrorCode.ENOMEM, `sub-buffer size change beyond maxBytesPerCpu=${this.config.maxBytesPerCpu}: subbufSize=${bytes}`);
        }
        return g;
      });
      for (const [i, c] of cpus.entries()) {
        if (this.#live(c).subbufSize === bytes) continue;
        this.#changeLive(c, (cb) => CpuBuffer.initialize(cb.data, cb.control, plans[i]!));
        Atomics.store(this.#global, this.#slot(c).anchor + SPARE_READY_INDEX, 0);
      }
    });
  }

  /**
   * Changes the live bank of `cpu` in place with producers shut out and the reader lock held,
   * then publishes the new layout: the anchor's generation first, then the bank's (which is what
   * producers watch), so a producer that sees the change finds the new layout.
   */
  #changeLive(cpu: number, change: (cb: CpuBuffer) => void): void {
    const cb = this.#live(cpu);
    cb.lockReader();
    try {
      cb.stopProducers();
      // layout_gen odd while the geometry changes: see #rebuild.
      Atomics.add(this.#global, this.#slot(cpu).anchor + LAYOUT_GEN_INDEX, 1);
      try {
        change(cb);
      } finally {
        Atomics.add(this.#global, this.#slot(cpu).anchor + LAYOUT_GEN_INDEX, 1);
        const fresh = this.#live(cpu);
        fresh.writeMetaConstants();
        cb.resumeProducers();
      }
    } finally {
      cb.unlockReader();
    }
    cb.wake();
  }

  /**
   * Defines a typed event and registers it in this buffer now (see {@link defineEvent}; a
   * module-level `defineEvent` registers at its first write instead). Returns the event, whose
   * `write(producer, ...values)` writes it.
   */
  defineEvent<const F extends FieldSpecs>(name: string, fields: F, options?: DefineEventOptions): TypedEvent<F> {
    const event = defineEvent(name, fields, options);
    event.registerIn(this.events);
    return event;
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

  /**
   * Every unread event of every CPU buffer, merged in timestamp order, WITHOUT consuming them
   * (the kernel's `trace` file): while recording is paused or while it runs. Events overwritten
   * during the walk are never returned; they are counted in the next event's `lostBefore`.
   */
  iterate(): Generator<TraceEvent, void, undefined> {
    return iterateEvents({ cpus: this.cpus, withReader: (cpu, fn) => this.#withReader(cpu, fn) });
  }

  /** Producers claimed through this object and not released yet. */
  get producers(): readonly Producer[] {
    return [...this.#producers];
  }

  /** Human-readable summary (for logs). */
  toString(): string {
    const c = this.config;
    const g = this.geometry(0);
    return `TraceBuffer(${showValue('cpus', this.cpus)} ${showValue('maxCpus', this.maxCpus)} ${showValue('subbufSize', g.subbufSize)} ${showValue('nrSubbufs', g.nrSubbufs)} ${showValue('overwrite', c.overwrite)} ${showValue('clock', c.clock)}${this.isSnapshot ? ' snapshot' : ''})`;
  }
}

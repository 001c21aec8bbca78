/**
 * The producer: the one writer of a CPU buffer (kernel `ring_buffer_lock_reserve` /
 * `ring_buffer_unlock_commit` / `rb_move_tail` / `rb_handle_head_page`, nesting depth 1).
 *
 * Hot path rules: no allocation, no throw on a full buffer (return `false`/`null` and count the
 * drop), event bytes written with plain stores and published by the commit word inside the
 * producer's publish sequence (`wseq` odd → stores → `wseq` even, all `Atomics.store`).
 *
 * @packageDocumentation
 */
import type { EventRegistry } from './registry.js';
import { endianness } from 'node:os';
import { counterNext, counterNextN, ClockKind, wakeLocalClock } from './clock.js';
import { STORES_IN_ORDER, load64, put, put64, write64 } from './counters.js';
import type { CpuBuffer } from './cpu-buffer.js';
import { InterleavePoint, interleaveHook } from './interleave.js';
import { ErrorCode, TraceBufferError, invalid } from './errors.js';
import { TIME_EXTEND_UNIT, dataTypeLen, eventLength, payloadOffset } from './event.js';
import {
  CLOCK_PAGE_LENGTH,
  TICK_ACTIVITY_INDEX,
  TICK_F64_INDEX,
  TICK_LENGTH_INDEX,
  COMMIT_LENGTH_MASK,
  CROSS_SEQ_INDEX,
  CTRL_INDEX,
  CTRL_GEN_MASK,
  CTRL_RECORD_OFF,
  CTRL_RESETTING,
  CTRL_WAITERS,
  DROPPED_EVENTS_INDEX,
  BASE_PAGE_INDEX,
  ENTRIES_BASE_INDEX,
  ENTRIES_BYTES_BASE_INDEX,
  EventType,
  MIN_DISCARD_LENGTH,
  OVERRUN_INDEX,
  PAGES_LOST_INDEX,
  PENDING_DROPS_INDEX,
  PAGES_TOUCHED_INDEX,
  STAGED_BYTES_BASE_INDEX,
  STAGED_ENTRIES_BASE_INDEX,
  STAGED_OVERRUN_INDEX,
  STAGED_PAGES_LOST_INDEX,
  STAGED_PAGES_TOUCHED_INDEX,
  STAGED_PUSH_BYTES_INDEX,
  PAGE_FLAG_MASK,
  PageFlag,
  SUBBUF_COMMIT_OFFSET,
  SUBBUF_DATA_OFFSET,
  SUBBUF_TIME_STAMP_OFFSET,
  TAIL_PAGE_INDEX,
  TIME_DELTA_MAX,
  TIME_EVENT_LENGTH,
  LAST_PAGES_TOUCHED_INDEX,
  READER_PAGE_INDEX,
  SHORTEST_FULL_INDEX,
  WAIT_ANY,
  WAIT_FULL,
  WSEQ_INDEX,
  linkGen,
  linkId,
  makeLink,
} from './layout.js';

/** Whole-word copies below assume the Int32Array byte order is the event format's (little-endian). */
const LITTLE_ENDIAN = endianness() === 'LE';

/** What {@link Producer.reserve} hands out: where to write the payload. Reused per producer. */
export interface Reservation {
  /** The whole data memory of the CPU buffer (replaced after a resize or a snapshot swap). */
  bytes: Uint8Array;
  /** A DataView over the same memory. */
  view: DataView;
  /** An Int32Array over the same memory (the payload starts 4-byte aligned). */
  words: Int32Array;
  /** Byte offset of the payload in {@link bytes}. */
  offset: number;
  /** Payload length asked for. */
  length: number;
}

/** `#times[LAST_TS]`: the timestamp of the last committed event. */
const LAST_TS = 0;
/** `#times[RESERVED_TS]`: the timestamp of the reservation in flight. */
const RESERVED_TS = 1;
/** `#times[TICK_SEEN]`: the last `local` tick this producer saw (raw; NaN before the first). */
const TICK_SEEN = 2;
/** `#times[TICK_BASE]`: that tick on the buffer's time scale (ns since creation). */
const TICK_BASE = 3;
/** `#times[BLOCK_NEXT]`: the next value of a block of `counter` stamps writeMany() took. */
const BLOCK_NEXT = 4;

/** Stands in for the clock page of buffers whose clock is not `local` (never read then). */
const NO_CLOCK_PAGE = new SharedArrayBuffer(CLOCK_PAGE_LENGTH);

/** How a producer reaches the buffer-wide parts it needs (clock, wake-ups). */
export interface ProducerContext {
  readonly overwrite: boolean;
  readonly clockKind: number;
  readonly monoOffsetNs: number;
  /** The `local` clock's page (`clock: 'local'` only). */
  readonly clockPage: SharedArrayBuffer | undefined;
  /** `process.hrtime` ns at the buffer's creation: the zero of the `mono` and `local` clocks. */
  readonly createdHrNs: number;
  readonly global: Int32Array;
  /** The live bank of `cpu` now (after a resize or a snapshot swap it is another object). */
  readonly live: (cpu: number) => CpuBuffer;
  /** Int32 index of `cpu`'s claim word in {@link global}. */
  readonly claimIndex: (cpu: number) => number;
  /** Called when the producer releases its slot. */
  readonly onRelease: (p: Producer) => void;
  /** The buffer's typed-event registry in this thread. */
  readonly events: EventRegistry;
}

/**
 * The single writer of one CPU buffer, made by `TraceBuffer.producer()`. Not shareable between
 * threads; each thread claims its own slot.
 */
export class Producer {
  /** The cpu slot this producer writes. */
  readonly cpu: number;
  /** Largest payload accepted: `subbufSize - 24`. */
  maxPayload!: number;
  /** The typed-event registry of this producer's buffer (what typed writers register in). */
  readonly events: EventRegistry;

  #cb!: CpuBuffer;
  readonly #ctx: ProducerContext;
  #ctl!: Int32Array;
  #i32!: Int32Array;
  #u8!: Uint8Array;
  readonly #global: Int32Array;
  #dataSize!: number;
  #subbufSize!: number;
  #nextBase!: number;
  #entriesArray!: number;
  #realEndBase!: number;
  readonly #overwrite: boolean;
  readonly #clockKind: number;
  readonly #monoOffsetNs: number;
  readonly #token: number;
  readonly #reservation: Reservation;
  // The `local` clock (see clock.ts): its page and the tick length.
  readonly #tickI32: Int32Array;
  readonly #tickF64: Float64Array;
  readonly #tickNs: number;
  readonly #createdHrNs: number;

  // Producer state, mirrored into the control block inside each publish sequence.
  #seq = 0;
  #crossSeq = 0;
  #ctrlSeen = 0;
  #tail = 0;
  #pageBase = 0;
  #write = 0;
  #pageEntries = 0;
  #entriesBase = 0;
  #bytesBase = 0;
  #overrun = 0;
  #dropped = 0;
  #pagesTouched = 0;
  #pagesLost = 0;
  #absoluteNext = false;
  /** Producer/consumer mode: the tail was padded by a drop and the ring was still full. */
  #padded = false;

  // writeMany(): events appended since the last publish, and those published by the call so far.
  #staged = 0;
  #batchDone = 0;
  /** writeMany(): a word view of the caller's last records buffer (rebuilt only for another buffer). */
  #srcBuffer: ArrayBufferLike | undefined;
  #src32: Int32Array<ArrayBufferLike> = new Int32Array(0);

  // The reservation in flight (between reserve and commit).
  #pending = false;
  #pendingSize = 0;
  /** Timestamps and `local` clock state, indexed by LAST_TS..TICK_BASE: doubles kept unboxed. */
  readonly #times = Float64Array.of(0, 0, Number.NaN, 0, 0);
  /** Values left in the block of `counter` stamps writeMany() took (0: take them one by one). */
  #blockLeft = 0;
  #released = false;

  /** @internal Use `TraceBuffer.producer()`. */
  constructor(cb: CpuBuffer, ctx: ProducerContext, token: number) {
    this.cpu = cb.cpu;
    this.#ctx = ctx;
    this.events = ctx.events;
    this.#global = ctx.global;
    this.#overwrite = ctx.overwrite;
    this.#clockKind = ctx.clockKind;
    this.#monoOffsetNs = ctx.monoOffsetNs;
    this.#createdHrNs = ctx.createdHrNs;
    const page = ctx.clockPage ?? NO_CLOCK_PAGE;
    this.#tickI32 = new Int32Array(page);
    this.#tickF64 = new Float64Array(page);
    this.#tickNs = this.#tickI32[TICK_LENGTH_INDEX]!;
    this.#token = token;
    this.#reservation = { bytes: cb.u8, view: cb.view, words: cb.i32, offset: 0, length: 0 };
    this.#bind(cb);
    // (A new thread's clock continues a ring another thread may have written: resync anchors
    // the first event with an absolute stamp.)
    this.#resyncLive();
    if (this.#clockKind === ClockKind.LOCAL) {
      // Another thread may have stamped this ring earlier in the current tick, up to one tick
      // past it: start there, so that the ring's stamps never go back.
      const tick = this.#tickF64[TICK_F64_INDEX]!;
      if (!Number.isNaN(tick)) this.#times[LAST_TS] = Math.max(0, tick - this.#createdHrNs) + this.#tickNs - 1;
    }
  }

  /** Points the producer at a bank (at claim, after a resize, after a snapshot swap). */
  #bind(cb: CpuBuffer): void {
    this.#cb = cb;
    this.#ctl = cb.ctl;
    this.#i32 = cb.i32;
    this.#u8 = cb.u8;
    this.#dataSize = cb.dataSize;
    this.#subbufSize = cb.subbufSize;
    this.#nextBase = cb.nextBase;
    this.#entriesArray = cb.entriesBase;
    this.#realEndBase = cb.realEndBase;
    this.maxPayload = cb.subbufSize - SUBBUF_DATA_OFFSET - 8;
    this.#reservation.bytes = cb.u8;
    this.#reservation.view = cb.view;
    this.#reservation.words = cb.i32;
  }

  /** Loads the producer state from the control block (at claim, and after a reset). */
  #resync(ctrl: number): void {
    const ctl = this.#ctl;
    // Only the generation is remembered: recording off and resetting are looked at each time.
    this.#ctrlSeen = ctrl & CTRL_GEN_MASK;
    this.#seq = Atomics.load(ctl, WSEQ_INDEX);
    this.#crossSeq = Atomics.load(ctl, CROSS_SEQ_INDEX);
    this.#tail = Atomics.load(ctl, TAIL_PAGE_INDEX);
    this.#pageBase = (this.#tail + 1) * this.#subbufSize;
    this.#write = this.#commitLength(this.#tail);
    this.#pageEntries = ctl[this.#entriesArray + this.#tail]!;
    // The `local` clock refines from the last stamp, which stays this producer's lower bound.
    if (this.#clockKind !== ClockKind.LOCAL) this.#times[LAST_TS] = 0;
    this.#entriesBase = load64(ctl, ENTRIES_BASE_INDEX);
    this.#bytesBase = load64(ctl, ENTRIES_BYTES_BASE_INDEX);
    this.#overrun = load64(ctl, OVERRUN_INDEX);
    this.#dropped = load64(ctl, DROPPED_EVENTS_INDEX);
    this.#pagesTouched = ctl[PAGES_TOUCHED_INDEX]! >>> 0;
    this.#pagesLost = ctl[PAGES_LOST_INDEX]! >>> 0;
    // The last committed timestamp is this producer's alone (never shared): the first event after
    // a resynchronisation on a sub-buffer with data carries an absolute TIME_STAMP instead.
    this.#absoluteNext = this.#write > 0;
    this.#padded = false;
  }

  /**
   * Loads the producer state from the bank that is live now. The control word is read first and
   * the bank checked live after it: a snapshot swap that takes the bank out later first shuts
   * producers out of it and then moves its generation on, which commit() sees. (Read the other
   * way round, a swap completed in between would leave the producer writing, unchecked, into a
   * bank no reader looks at any more, which the next snapshot then re-initialises under it.)
   */
  #resyncLive(): void {
    for (;;) {
      if (interleaveHook !== undefined) interleaveHook(InterleavePoint.PRODUCER_BIND, this.cpu);
      const ctrl = Atomics.load(this.#ctl, CTRL_INDEX);
      const live = this.#ctx.live(this.cpu);
      if (live === this.#cb) {
        this.#resync(ctrl);
        return;
      }
      this.#bind(live);
    }
  }

  /**
   * The control word changed since we last looked: recording off or a reset in progress refuse
   * the write; a new reset generation makes us reload our state. Returns whether to go on.
   */
  #ctrlChanged(ctrl: number): boolean {
    if ((ctrl & (CTRL_RECORD_OFF | CTRL_RESETTING)) !== 0) return false;
    // A new generation: maybe a reset, maybe a new geometry or another live bank.
    const live = this.#ctx.live(this.cpu);
    if (live !== this.#cb) {
      this.#bind(live);
      return this.#ctrlChanged(Atomics.load(this.#ctl, CTRL_INDEX));
    }
    this.#resync(ctrl);
    return true;
  }

  /**
   * Takes the event's timestamp into `#times[RESERVED_TS]` (a Float64Array: a double returned from a call
   * that is not inlined would be boxed, and the `local` and `mono` stamps are not small integers).
   */
  #stamp(): void {
    const times = this.#times;
    if (this.#clockKind === ClockKind.LOCAL) {
      // One plain load of the coarse time; a new tick (once per tick) takes the cold path.
      if (this.#tickF64[TICK_F64_INDEX]! !== times[TICK_SEEN]!) this.#newTick();
      const base = times[TICK_BASE]!;
      const last = times[LAST_TS]!;
      // The tick, or 1 ns after the last stamp while that stays inside the tick (stamps of a
      // tick stay below the next tick; past that, equal stamps).
      times[RESERVED_TS] = base > last ? base : last + 1 < base + this.#tickNs ? last + 1 : last;
    } else if (this.#clockKind === ClockKind.MONO) {
      times[RESERVED_TS] = Math.floor(performance.now() * 1e6 + this.#monoOffsetNs);
    } else if (this.#blockLeft !== 0) {
      this.#blockLeft--;
      times[RESERVED_TS] = times[BLOCK_NEXT]!;
      times[BLOCK_NEXT] = times[BLOCK_NEXT]! + 1;
    } else {
      times[RESERVED_TS] = counterNext(this.#global);
    }
  }

  /** The `local` clock moved to a new tick (or its ticker sleeps: NaN). Once per tick. */
  #newTick(): void {
    const tick = this.#tickF64[TICK_F64_INDEX]!;
    const coarse = Number.isNaN(tick) ? wakeLocalClock(this.#tickI32, this.#tickF64) : tick;
    this.#times[TICK_SEEN] = coarse;
    // (The tick before the buffer's creation is stamped 0: time starts at creation.)
    this.#times[TICK_BASE] = Math.max(0, coarse - this.#createdHrNs);
    // Tells the ticker that someone is looking (a plain store, once per tick, on its own line).
    this.#tickI32[TICK_ACTIVITY_INDEX] = 1;
  }

  /**
   * Writes one event with `payload` as its data. Returns `true` when committed, `false` when
   * dropped (ring full in producer/consumer mode, recording off, reset in progress). Throws
   * `EINVAL` (and writes nothing) when the payload is longer than {@link maxPayload}.
   */
  write(payload: Uint8Array): boolean {
    const length = payload.length;
    const at = this.#reserve(length);
    if (at < 0) return false;
    if (length <= 12 && LITTLE_ENDIAN) {
      // Small payloads: whole 32-bit words (the payload starts 4-aligned) beat both a byte loop
      // and TypedArray#set's fixed cost.
      const i32 = this.#i32;
      let i = 0;
      for (; i + 4 <= length; i += 4) {
        i32[(at + i) >> 2] = payload[i]! | (payload[i + 1]! << 8) | (payload[i + 2]! << 16) | (payload[i + 3]! << 24);
      }
      for (const u8 = this.#u8; i < length; i++) u8[at + i] = payload[i]!;
    } else {
      this.#u8.set(payload, at);
    }
    return this.commit();
  }

  /**
   * Reserves room for an event of `length` payload bytes and returns where to write it (a
   * reused object), or `null` when the write is dropped. Fill the payload, then {@link commit}
   * (or {@link discard}). Nothing is visible to readers before the commit.
   */
  reserve(length: number): Reservation | null {
    const at = this.#reserve(length);
    if (at < 0) return null;
    const r = this.#reservation;
    r.offset = at;
    r.length = length;
    return r;
  }

  /** Reserve; returns the payload's byte offset in the data memory, or -1. */
  #reserve(length: number): number {
    if (this.#pending || this.#released || !((length | 0) === length && length >= 0 && length <= this.maxPayload)) {
      this.#badReserve(length);
    }
    // A plain load: a stale value only lets a write through just after recording went off (the
    // kernel has the same window); commit() re-checks the generation with an Atomics.load.
    const ctrl = this.#ctl[CTRL_INDEX]! & ~CTRL_WAITERS;
    if (ctrl !== this.#ctrlSeen && !this.#ctrlChanged(Atomics.load(this.#ctl, CTRL_INDEX))) return -1;
    this.#stamp();
    return this.#reserveStamped(length);
  }

  /** The rest of reserve, for the stamp in `#times[RESERVED_TS]` (also writeMany's slow case). */
  #reserveStamped(length: number): number {
    const ts = this.#times[RESERVED_TS]!;
    const size = eventLength(length);
    let write = this.#write;
    let delta = ts - this.#times[LAST_TS]!;
    let prefix = 0;
    let absolute = false;
    if (write === 0) {
      delta = 0;
    } else if (this.#absoluteNext) {
      prefix = TIME_EVENT_LENGTH;
      absolute = true;
    } else if (delta > TIME_DELTA_MAX) {
      prefix = TIME_EVENT_LENGTH;
    } else if (delta < 0) {
      delta = 0;
    }
    if (write + prefix + size > this.#dataSize) {
      // writeMany(): what it appended to this sub-buffer is published before the tail moves on.
      if (this.#staged !== 0 && !this.#publishStaged()) return -1;
      if (!this.#moveTail()) return -1;
      write = 0;
      delta = 0;
      prefix = 0;
      absolute = false;
    }

    const i32 = this.#i32;
    let at = this.#pageBase + SUBBUF_DATA_OFFSET + write;
    if (write === 0) {
      const stamp = (this.#pageBase + SUBBUF_TIME_STAMP_OFFSET) >> 2;
      i32[stamp] = ts | 0;
      i32[stamp + 1] = (ts / 4294967296) | 0;
    } else if (prefix !== 0) {
      // TIME_STAMP: the low 59 bits of ts; TIME_EXTEND: the delta split at bit 27.
      const value = absolute ? ts : delta;
      const high = Math.floor(value / TIME_EXTEND_UNIT);
      i32[at >> 2] = (absolute ? EventType.TIME_STAMP : EventType.TIME_EXTEND) | ((value - high * TIME_EXTEND_UNIT) << 5);
      i32[(at >> 2) + 1] = high | 0;
      at += TIME_EVENT_LENGTH;
      delta = 0;
    }
    const typeLen = dataTypeLen(size);
    i32[at >> 2] = typeLen | (delta << 5);
    if (typeLen === 0) i32[(at >> 2) + 1] = size - 4;

    this.#pending = true;
    this.#pendingSize = prefix + size;
    return at + payloadOffset(size);
  }

  #badReserve(length: number): void {
    // A longer payload may fit a sub-buffer size set meanwhile: look before refusing.
    if (!this.#pending && !this.#released && (length | 0) === length && length > this.maxPayload) {
      const ctrl = Atomics.load(this.#ctl, CTRL_INDEX);
      if ((ctrl & ~CTRL_WAITERS) !== this.#ctrlSeen) this.#ctrlChanged(ctrl);
      if (length <= this.maxPayload) return;
    }
    if (this.#released) throw new TraceBufferError(ErrorCode.EINVAL, `producer was released: cpu=${this.cpu}`);
    if (this.#pending) throw new TraceBufferError(ErrorCode.EBUSY, `a reservation is not committed yet: cpu=${this.cpu}`);
    return invalid(`payload length must be an integer 0..${this.maxPayload}`, 'length', length);
  }

  /**
   * Publishes the reserved event: the commit word, the per-sub-buffer event count and the
   * counters are stored inside the publish sequence, whose final `Atomics.store` makes the
   * event bytes above visible to every reader that sees it. Returns `false` (and drops the
   * event) when the buffer was reset after the reserve.
   */
  commit(): boolean {
    if (!this.#pending) return false;
    this.#stage();
    return this.#publish();
  }

  /**
   * Counts the reserved event into the producer's own state (not yet visible): the tail's write
   * offset and event count, the last timestamp.
   */
  #stage(): void {
    this.#pending = false;
    this.#write += this.#pendingSize;
    this.#pageEntries++;
    this.#times[LAST_TS] = this.#times[RESERVED_TS]!;
    this.#absoluteNext = false;
  }

  /**
   * The publish sequence (design §3.2): makes what the producer staged on the tail sub-buffer
   * visible — its commit word and event count — for one event (commit()) or a group
   * (writeMany()). Refused (false) when a reset or a swap began since the reserve: what was staged
   * is dropped, and the producer reloads its state at the next reserve.
   */
  #publish(): boolean {
    const ctl = this.#ctl;
    Atomics.store(ctl, WSEQ_INDEX, ++this.#seq);
    // Paired with reset(), which sets RESETTING and then waits for an even wseq (Dekker): the
    // sequentially consistent store above is a full fence on x86, after which a plain load is a
    // real, ordered read (V8 keeps no loaded value across an atomic operation).
    const ctrl = STORES_IN_ORDER ? ctl[CTRL_INDEX]! : Atomics.load(ctl, CTRL_INDEX);
    if (((ctrl ^ this.#ctrlSeen) & (CTRL_GEN_MASK | CTRL_RESETTING)) !== 0) {
      Atomics.store(ctl, WSEQ_INDEX, ++this.#seq);
      // The next reserve must reload the state (what was staged advanced it).
      this.#ctrlSeen = ~ctrl & CTRL_GEN_MASK;
      return false;
    }
    if (interleaveHook !== undefined) interleaveHook(InterleavePoint.PRODUCER_PUBLISH, this.cpu);
    // Everything a reader derives (entries = base + this count, bytes = base + commit) is
    // in these stores; a recovery after a crash here recounts the tail sub-buffer.
    if (STORES_IN_ORDER) {
      this.#i32[(this.#pageBase + SUBBUF_COMMIT_OFFSET) >> 2] = this.#write;
      ctl[this.#entriesArray + this.#tail] = this.#pageEntries;
    } else {
      Atomics.store(this.#i32, (this.#pageBase + SUBBUF_COMMIT_OFFSET) >> 2, this.#write);
      Atomics.store(ctl, this.#entriesArray + this.#tail, this.#pageEntries);
    }
    // Even again: publishes the stores above. Plain on x86, whose stores become visible in
    // program order; the full fence the Dekker pair with reset() needs is the odd store above
    // (design §3.2).
    put(ctl, WSEQ_INDEX, ++this.#seq);
    // Waiter bits share `ctrl`, so the load above also tells whether anyone waits. A waiter
    // that registers after it re-checks the buffer, which waits for the even wseq above.
    if ((ctrl & CTRL_WAITERS) !== 0) this.#wakeups();
    return true;
  }

  /**
   * Writes `count` events of `recordLength` bytes each, taken one after another from `records`
   * (the first `count × recordLength` bytes; by default as many whole records as it holds), and
   * publishes them together: one publish sequence per sub-buffer they land on instead of one per
   * event. Each event is stamped like a `write()` of its own (the clock is read per event) and
   * is a separate event for every reader. Nothing of an unpublished group is visible, so readers
   * see whole groups, at most a sub-buffer's worth later than with `write()`; `consume()` and
   * GET_READER may hand out the first events of a call before the last are written.
   *
   * Returns how many events were committed: all of them, or fewer when the ring filled up in
   * producer/consumer mode, recording went off or a reset began (then the first that many were
   * written and the rest were not; retry with the rest as with `write()`). `EINVAL` (nothing
   * written) for a record length beyond {@link maxPayload}, a count that the bytes do not hold,
   * or records that are not a Uint8Array. Allocates nothing.
   */
  writeMany(records: Uint8Array, recordLength: number, count?: number): number {
    if (!(records instanceof Uint8Array)) invalid('records must be a Uint8Array', 'records', records);
    if (!Number.isInteger(recordLength) || recordLength < 0 || recordLength > this.maxPayload) {
      // A longer record may fit a sub-buffer size set meanwhile: look before refusing.
      const ctrl = Atomics.load(this.#ctl, CTRL_INDEX);
      if (Number.isInteger(recordLength) && (ctrl & ~CTRL_WAITERS) !== this.#ctrlSeen) this.#ctrlChanged(ctrl);
      if (!Number.isInteger(recordLength) || recordLength < 0 || recordLength > this.maxPayload) {
        invalid(`recordLength must be an integer 0..${this.maxPayload}`, 'recordLength', recordLength);
      }
    }
    const most = recordLength === 0 ? 0 : Math.floor(records.length / recordLength);
    const n = count ?? most;
    if (!Number.isInteger(n) || n < 0 || n > most) invalid(`count must be an integer 0..${most} (whole records in ${records.length} bytes)`, 'count', count);
    if (this.#pending || this.#released) this.#badReserve(recordLength);
    this.#batchDone = 0;
    // Whole 32-bit words when the records allow it (as write() does for small payloads).
    const words = LITTLE_ENDIAN && (records.byteOffset & 3) === 0 && (recordLength & 3) === 0;
    if (words && (this.#srcBuffer !== records.buffer || this.#src32.length < (records.byteOffset + n * recordLength) >> 2)) {
      this.#srcBuffer = records.buffer;
      this.#src32 = new Int32Array(records.buffer, 0, records.buffer.byteLength >> 2);
    }
    const src32 = this.#src32;
    const first32 = records.byteOffset >> 2;
    if (this.#clockKind === ClockKind.COUNTER && n > 1) {
      // One Atomics.add for the whole call: consecutive stamps (those of events not written in
      // the end are simply not used).
      this.#times[BLOCK_NEXT] = counterNextN(this.#global, n);
      this.#blockLeft = n;
    }
    const size = eventLength(recordLength);
    const typeLen = dataTypeLen(size);
    const payloadAt = payloadOffset(size);
    const times = this.#times;
    for (let i = 0, from = 0; i < n; i++, from += recordLength) {
      let at: number;
      // The common case inline: the event fits the tail sub-buffer after an event of this
      // producer (room kept for a TIME_EXTEND), recording on and no reset since. Otherwise, or
      // for a delta beyond the header's 27 bits, the general reserve.
      if (
        this.#write !== 0 &&
        !this.#absoluteNext &&
        this.#write + size + TIME_EVENT_LENGTH <= this.#dataSize &&
        (this.#ctl[CTRL_INDEX]! & ~CTRL_WAITERS) === this.#ctrlSeen
      ) {
        this.#stamp();
        const ts = times[RESERVED_TS]!;
        const delta = ts - times[LAST_TS]!;
        if (delta > TIME_DELTA_MAX) {
          // (Rare: more than 134 ms since the last event: the general placement, with this stamp.)
          at = this.#reserveStamped(recordLength);
        } else {
          at = this.#pageBase + SUBBUF_DATA_OFFSET + this.#write;
          const i32 = this.#i32;
          i32[at >> 2] = typeLen | ((delta < 0 ? 0 : delta) << 5);
          if (typeLen === 0) i32[(at >> 2) + 1] = size - 4;
          at += payloadAt;
          this.#pendingSize = size;
        }
      } else {
        at = this.#reserve(recordLength);
      }
      if (at < 0) break;
      // (this.#i32 / #u8, not copies taken before the loop: #reserve may rebind after a resize or swap.)
      if (words) {
        const dst = this.#i32;
        const d = at >> 2;
        const s = first32 + (from >> 2);
        const m = recordLength >> 2;
        let k = 0;
        // Four words per round: several times faster than one per round into shared memory.
        for (; k + 4 <= m; k += 4) {
          dst[d + k] = src32[s + k]!;
          dst[d + k + 1] = src32[s + k + 1]!;
          dst[d + k + 2] = src32[s + k + 2]!;
          dst[d + k + 3] = src32[s + k + 3]!;
        }
        for (; k < m; k++) dst[d + k] = src32[s + k]!;
      } else {
        const dst = this.#u8;
        for (let j = 0; j < recordLength; j++) dst[at + j] = records[from + j]!;
      }
      // Staged: published with the rest of this sub-buffer's group.
      this.#stage();
      this.#staged++;
    }
    this.#blockLeft = 0;
    if (this.#staged !== 0) this.#publishStaged();
    return this.#batchDone;
  }

  /** Publishes the events writeMany() staged on the tail sub-buffer; counts them when it succeeds. */
  #publishStaged(): boolean {
    const staged = this.#staged;
    this.#staged = 0;
    if (!this.#publish()) return false;
    this.#batchDone += staged;
    return true;
  }

  /**
   * Wake-ups after a commit (kernel `rb_wakeups`), only when a waiter is pending: any-data
   * waiters on this commit; watermark waiters only when the producer crossed into a new
   * sub-buffer since the last look, the reader sub-buffer is not the producer's, and the
   * smallest pending watermark is reached (kernel-semantics §6.1, §6.3).
   */
  #wakeups(): void {
    const ctl = this.#ctl;
    const pending = Atomics.load(ctl, CTRL_INDEX);
    let wake = false;
    if ((pending & WAIT_ANY) !== 0) {
      Atomics.and(ctl, CTRL_INDEX, ~WAIT_ANY);
      wake = true;
    }
    if ((pending & WAIT_FULL) !== 0 && ctl[LAST_PAGES_TOUCHED_INDEX] !== this.#pagesTouched) {
      ctl[LAST_PAGES_TOUCHED_INDEX] = this.#pagesTouched;
      if (
        this.#tail !== Atomics.load(ctl, READER_PAGE_INDEX) &&
        this.#cb.fullHit(Atomics.load(ctl, SHORTEST_FULL_INDEX), this.#pagesTouched, this.#pagesLost)
      ) {
        Atomics.and(ctl, CTRL_INDEX, ~WAIT_FULL);
        Atomics.store(ctl, SHORTEST_FULL_INDEX, 0);
        wake = true;
      }
    }
    if (wake) this.#cb.wake();
  }

  /**
   * Drops the reserved event. As the kernel does when the discarded event is still the last
   * one reserved, the space is simply given back: nothing of it reaches the buffer.
   */
  discard(): void {
    this.#pending = false;
  }

  /**
   * Moves the tail to the next sub-buffer (kernel `rb_move_tail`), inside a publish sequence:
   * pads the end of the current one (kernel-semantics §2.5), then either takes the next free
   * sub-buffer, or — when the next one is the head — drops the event (producer/consumer mode)
   * or pushes the head and overwrites it (overwrite mode, kernel-semantics §3.6):
   *
   *   tail →HEAD→ H → N      CAS HEAD→UPDATE      tail →UPDATE→ H →HEAD→ N      UPDATE→NORMAL
   *
   * The reader's swap races only through the compare-and-swap on `tail → H`.
   */
  #moveTail(): boolean {
    const ctl = this.#ctl;
    // Producer/consumer mode, ring still full since our last drop (the tail is padded already):
    // count the drop without a publish sequence. A producer that retries in a tight loop would
    // otherwise keep wseq odd so often that readers' seqlock rounds — the very readers that
    // would free the ring — keep failing.
    if (this.#padded && (Atomics.load(ctl, this.#nextBase + this.#tail) & PAGE_FLAG_MASK) !== PageFlag.NORMAL) {
      Atomics.add(ctl, PENDING_DROPS_INDEX, 1);
      return false;
    }
    Atomics.store(ctl, WSEQ_INDEX, ++this.#seq);
    // The reset pairing, as in commit(): a plain load after the fence of the store above (x86).
    const ctrl = STORES_IN_ORDER ? ctl[CTRL_INDEX]! : Atomics.load(ctl, CTRL_INDEX);
    if (((ctrl ^ this.#ctrlSeen) & (CTRL_GEN_MASK | CTRL_RESETTING)) !== 0) {
      Atomics.store(ctl, WSEQ_INDEX, ++this.#seq);
      return false;
    }
    // Readers read the words that change only here inside a cross_seq round. Inside the wseq
    // section, so it is a seqlock writer's store like the words below (put: plain where stores
    // stay in order).
    put(ctl, CROSS_SEQ_INDEX, ++this.#crossSeq);
    this.#padTail();
    const tail = this.#tail;
    const nextBase = this.#nextBase;
    const f = this.#cb.link;
    let moved = false;
    for (;;) {
      if (interleaveHook !== undefined) interleaveHook(InterleavePoint.PRODUCER_MOVE_TAIL, this.cpu);
      const link = Atomics.load(ctl, nextBase + tail);
      const next = linkId(f, link);
      const flag = link & PAGE_FLAG_MASK;
      if (flag !== PageFlag.NORMAL) {
        if (!this.#overwrite) {
          put64(ctl, DROPPED_EVENTS_INDEX, ++this.#dropped);
          this.#padded = true;
          break;
        }
        const update = (link & ~PAGE_FLAG_MASK) | PageFlag.UPDATE;
        if (flag === PageFlag.HEAD) {
          // Stage what the push makes of the counters, so a recovery can finish it exactly.
          const overrun = this.#overrun + Atomics.load(ctl, this.#entriesArray + next);
          const bytesBase = this.#bytesBase - this.#commitLength(next);
          // (Read only by a recovery, after this thread is gone: plain stores suffice.)
          write64(ctl, STAGED_OVERRUN_INDEX, overrun);
          write64(ctl, STAGED_PUSH_BYTES_INDEX, bytesBase);
          ctl[STAGED_PAGES_LOST_INDEX] = this.#pagesLost + 1;
          // Lost race with the reader's swap: the link now points at the old reader page.
          if (Atomics.compareExchange(ctl, nextBase + tail, link, update) !== link) continue;
          if (interleaveHook !== undefined) interleaveHook(InterleavePoint.PRODUCER_PUSH_UPDATE, this.cpu);
          this.#overrun = overrun;
          put64(ctl, OVERRUN_INDEX, overrun);
          this.#bytesBase = bytesBase;
          put64(ctl, ENTRIES_BYTES_BASE_INDEX, bytesBase);
          put(ctl, PAGES_LOST_INDEX, ++this.#pagesLost);
        }
        // Set HEAD on the head's successor (a new generation: see LinkFormat), then clear UPDATE
        // on our link (also finishing a push a crashed producer left in UPDATE). No reader writes
        // either link meanwhile — a reader's CAS expects HEAD on our link and fails on UPDATE, and
        // readers never write the head's own link — so these are stores, not compare-and-swaps:
        // in this order, which `put` keeps (plain on x86, whose stores stay in order).
        const after = ctl[nextBase + next]!;
        if ((after & PAGE_FLAG_MASK) === PageFlag.NORMAL) {
          put(ctl, nextBase + next, makeLink(f, linkId(f, after), PageFlag.HEAD, linkGen(f, after) + 1));
        }
        put(ctl, nextBase + tail, link & ~PAGE_FLAG_MASK);
      }
      this.#enterPage(next);
      moved = true;
      break;
    }
    put(ctl, CROSS_SEQ_INDEX, ++this.#crossSeq);
    Atomics.store(ctl, WSEQ_INDEX, ++this.#seq);
    return moved;
  }

  #commitLength(id: number): number {
    return this.#i32[((id + 1) * this.#subbufSize + SUBBUF_COMMIT_OFFSET) >> 2]! & COMMIT_LENGTH_MASK;
  }

  /**
   * Makes `id` the tail: bring the bases up to the old tail, empty `id` (kernel
   * `rb_tail_page_update`) and publish the move.
   */
  #enterPage(id: number): void {
    const ctl = this.#ctl;
    if (this.#padded) {
      // Fold the drops counted without a publish sequence (we are inside one now).
      this.#padded = false;
      this.#dropped += Atomics.exchange(ctl, PENDING_DROPS_INDEX, 0);
      put64(ctl, DROPPED_EVENTS_INDEX, this.#dropped);
    }
    // Staged first, then base_page names the move: a recovery that finds base_page ahead of
    // tail_page completes the move from the staged values.
    this.#entriesBase += this.#pageEntries;
    this.#bytesBase += this.#write;
    write64(ctl, STAGED_ENTRIES_BASE_INDEX, this.#entriesBase);
    write64(ctl, STAGED_BYTES_BASE_INDEX, this.#bytesBase);
    ctl[STAGED_PAGES_TOUCHED_INDEX] = this.#pagesTouched + 1;
    put(ctl, BASE_PAGE_INDEX, id);
    put64(ctl, ENTRIES_BASE_INDEX, this.#entriesBase);
    put64(ctl, ENTRIES_BYTES_BASE_INDEX, this.#bytesBase);
    put(ctl, PAGES_TOUCHED_INDEX, ++this.#pagesTouched);
    if (interleaveHook !== undefined) interleaveHook(InterleavePoint.PRODUCER_ENTER_PAGE, this.cpu);
    const base = (id + 1) * this.#subbufSize;
    put(ctl, this.#entriesArray + id, 0);
    put(ctl, this.#realEndBase + id, 0);
    put(this.#i32, ((base + SUBBUF_COMMIT_OFFSET) >> 2) + 1, 0);
    put(this.#i32, (base + SUBBUF_COMMIT_OFFSET) >> 2, 0);
    this.#tail = id;
    this.#pageBase = base;
    this.#write = 0;
    this.#pageEntries = 0;
    put(ctl, TAIL_PAGE_INDEX, id);
  }

  /**
   * End-of-sub-buffer rules (kernel `rb_reset_tail`): nothing when full (real_end 0); a 4-byte
   * null padding outside the commit when fewer than 8 bytes remain; otherwise a discarded
   * padding event up to the end, inside the commit, counted into `entries_bytes`.
   */
  #padTail(): void {
    const tail = this.#write;
    const ctl = this.#ctl;
    const realEnd = this.#realEndBase + this.#tail;
    if (tail >= this.#dataSize) {
      ctl[realEnd] = 0;
      return;
    }
    const i32 = this.#i32;
    const at = (this.#pageBase + SUBBUF_DATA_OFFSET + tail) >> 2;
    const rest = this.#dataSize - tail;
    ctl[realEnd] = tail;
    if (rest < MIN_DISCARD_LENGTH) {
      i32[at] = EventType.PADDING;
      return;
    }
    i32[at] = EventType.PADDING | (1 << 5);
    i32[at + 1] = rest - 4;
    this.#write = this.#dataSize;
    put(i32, (this.#pageBase + SUBBUF_COMMIT_OFFSET) >> 2, this.#dataSize);
  }

  /**
   * Gives the slot back. The producer cannot be used afterwards; another thread (or this one)
   * can claim the slot again and continues the same ring.
   */
  release(): void {
    if (this.#released) return;
    this.#pending = false;
    this.#released = true;
    Atomics.compareExchange(this.#global, this.#ctx.claimIndex(this.cpu), this.#token, 0);
    this.#ctx.onRelease(this);
  }

  /** This producer's claim token (what `tb.claimToken(cpu)` shows while it holds the slot). */
  get token(): number {
    return this.#token;
  }

  /** True once {@link release} was called. */
  get released(): boolean {
    return this.#released;
  }
}

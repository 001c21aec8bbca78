/**
 * One CPU buffer (kernel `ring_buffer_per_cpu`): the shared memory of one ring, and the
 * reader-side algorithms: the reader sub-buffer swap, GET_READER, reset, stats.
 *
 * The producer side lives in `producer.ts`. Both sides meet only through the shared words
 * declared in `layout.ts`; `docs/design.md` has the pointer-state diagrams this code follows.
 *
 * @packageDocumentation
 */
import { endianness } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { get, get64, load64, read64, store64, write64 } from './counters.js';
import { SubbufReader } from './decoder.js';
import { ErrorCode, TraceBufferError } from './errors.js';
import { InterleavePoint, interleaveHook } from './interleave.js';
import {
  COMMIT_LENGTH_MASK,
  CTRL_GEN_UNIT,
  CTRL_INDEX,
  CTRL_RECORD_OFF,
  CTRL_RESETTING,
  DROPPED_EVENTS_INDEX,
  BANK_GEN_INDEX,
  BASE_PAGE_INDEX,
  CROSS_SEQ_INDEX,
  CAPACITY_INDEX,
  ENTRIES_BASE_INDEX,
  ENTRIES_BYTES_BASE_INDEX,
  HEAD_PAGE_INDEX,
  LAST_OVERRUN_INDEX,
  LOST_EVENTS_INDEX,
  LOST_UNREPORTED_INDEX,
  MAPPED_INDEX,
  META_ENTRIES_OFFSET,
  META_FLAGS_OFFSET,
  META_NR_SUBBUFS_OFFSET,
  META_OVERRUN_OFFSET,
  META_PAGE_SIZE_OFFSET,
  META_READER_ID_OFFSET,
  META_READER_LOST_EVENTS_OFFSET,
  META_READER_READ_OFFSET,
  META_READ_OFFSET,
  META_STRUCT_LENGTH,
  META_STRUCT_LEN_OFFSET,
  META_SUBBUF_SIZE_OFFSET,
  MISSED_COUNT_LENGTH,
  MIN_SUBBUF_SIZE,
  NEXT_ARRAY,
  NR_SUBBUFS_INDEX,
  OVERRUN_INDEX,
  PAGES_LOST_INDEX,
  PENDING_DROPS_INDEX,
  PAGES_INDEX,
  PAGES_READ_INDEX,
  PAGES_TOUCHED_INDEX,
  PAGE_ENTRIES_ARRAY,
  PAGE_FLAG_MASK,
  PREV_ARRAY,
  PageFlag,
  RB_MISSED_EVENTS,
  RB_MISSED_STORED,
  READER_LOCK_INDEX,
  READER_PAGE_INDEX,
  READER_READ_ENTRIES_INDEX,
  READER_READ_INDEX,
  READ_BYTES_INDEX,
  READ_INDEX,
  REAL_END_ARRAY,
  SHORTEST_FULL_INDEX,
  STAGED_BYTES_BASE_INDEX,
  STAGED_ENTRIES_BASE_INDEX,
  STAGED_OVERRUN_INDEX,
  STAGED_PAGES_LOST_INDEX,
  STAGED_PAGES_TOUCHED_INDEX,
  STAGED_PUSH_BYTES_INDEX,
  WAIT_ANY,
  WAIT_FULL,
  WAKE_SEQ_INDEX,
  SUBBUF_COMMIT_OFFSET,
  SUBBUF_DATA_OFFSET,
  SUBBUF_SIZE_INDEX,
  SUBBUF_TIME_STAMP_OFFSET,
  TAIL_PAGE_INDEX,
  TIME_EVENT_LENGTH,
  EventType,
  WSEQ_INDEX,
  cpuControlLength,
  type LinkFormat,
  linkFormat,
  linkGen,
  linkId,
  makeLink,
  pageArrayIndex,
} from './layout.js';

/** Geometry of every CPU buffer of one trace buffer. */
export interface Geometry {
  /** Bytes per sub-buffer including the 16-byte header. */
  readonly subbufSize: number;
  /** Sub-buffers per CPU buffer including the reader one. */
  readonly nrSubbufs: number;
}

/** Consistent copy of the producer-side counters, read with one seqlock round. */
export interface WriterSnapshot {
  tailPage: number;
  write: number;
  entries: number;
  entriesBytes: number;
  overrun: number;
  droppedEvents: number;
  pagesTouched: number;
  pagesLost: number;
}

/** Bytes of the data SharedArrayBuffer of one CPU buffer: the meta slot plus every sub-buffer. */
export function cpuDataLength(g: Geometry): number {
  return (g.nrSubbufs + 1) * g.subbufSize;
}

/** Int32Array stores are little-endian words of the meta page's fields. */
const LITTLE_ENDIAN = endianness() === 'LE';

const SPIN_BEFORE_SLEEP = 200;
const SPIN_LIMIT_MS = 1000;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Waits a little in a reader-side spin loop: busy for the first rounds, then, off the main
 * thread, short `Atomics.wait` naps. Throws `EFAULT` after a second (`holder` — a producer, by
 * default — died inside its critical section; the kernel gives up its busy-wait after a second
 * too).
 */
export function relax(round: number, since: number, what: string, holder = 'a producer'): number {
  if (round < SPIN_BEFORE_SLEEP) return since;
  // The clock is read only once a wait gets long: the uncontended paths never read it. Each
  // spin loop keeps its own start (`since`), so nested loops cannot restart each other's clock.
  if (since === 0) since = performance.now();
  if (!isMainThread) Atomics.wait(sleepCell, 0, 0, 0.05);
  if ((round & 0xff) === 0 && performance.now() - since > SPIN_LIMIT_MS) {
    throw new TraceBufferError(ErrorCode.EFAULT, `${holder} did not leave its critical section: waiting for=${what}`);
  }
  return since;
}

/** Stores `value` (0 ≤ value < 2^53) as a little-endian u64 without making a BigInt. */
function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 4294967296, true);
  view.setUint32(at + 4, Math.floor(value / 4294967296), true);
}

/**
 * The shared memory of one CPU buffer and the operations any thread may run on it as a reader.
 * A `CpuBuffer` object is cheap; each thread builds its own over the same SharedArrayBuffers.
 */
export class CpuBuffer {
  /** CPU slot number. */
  readonly cpu: number;
  /** Bytes per sub-buffer including the header. */
  readonly subbufSize: number;
  /** Sub-buffers including the reader one. */
  readonly nrSubbufs: number;
  /** Bytes of the data area of a sub-buffer (`subbufSize - 16`). */
  readonly dataSize: number;
  /** The mapping memory: meta slot then sub-buffers 0..nrSubbufs-1. */
  readonly data: SharedArrayBuffer;
  /** The private control block. */
  readonly control: SharedArrayBuffer;
  /** Byte view of {@link data}. */
  readonly u8: Uint8Array;
  /** Int32 view of {@link data} (headers, commit words). */
  readonly i32: Int32Array;
  /** DataView of {@link data} (u64 fields). */
  readonly view: DataView;
  /** Int32 view of the control block. */
  readonly ctl: Int32Array;
  /** Int32 index of `next[0]`. */
  readonly nextBase: number;
  /** Int32 index of `prev[0]`. */
  readonly prevBase: number;
  /** Int32 index of `entries[0]` (per sub-buffer). */
  readonly entriesBase: number;
  /** Int32 index of `real_end[0]`. */
  readonly realEndBase: number;

  readonly #snap: WriterSnapshot = {
    tailPage: 0,
    write: 0,
    entries: 0,
    entriesBytes: 0,
    overrun: 0,
    droppedEvents: 0,
    pagesTouched: 0,
    pagesLost: 0,
  };
  readonly #pageRead = { length: 0, entries: 0 };

  /** Sub-buffers the per-page arrays of this bank's control block have room for. */
  readonly capacity: number;
  /** How ring links of this bank pack id, flag and generation. */
  readonly link: LinkFormat;

  /**
   * A view of one bank — a data SharedArrayBuffer in the mmap layout and its control block —
   * with the geometry the control block records now. A resize or a new life of the bank makes
   * new `CpuBuffer` objects; this one keeps fixed-length views of the old geometry.
   */
  constructor(cpu: number, data: SharedArrayBuffer, control: SharedArrayBuffer) {
    const ctl = new Int32Array(control, 0, control.byteLength >> 2);
    if (ctl.length === 0) throw new TraceBufferError(ErrorCode.EINVAL, `not an initialised tracebuf bank: cpu=${cpu}`);
    const subbufSize = Atomics.load(ctl, SUBBUF_SIZE_INDEX);
    const nrSubbufs = Atomics.load(ctl, NR_SUBBUFS_INDEX);
    const capacity = Atomics.load(ctl, CAPACITY_INDEX);
    const length = cpuDataLength({ subbufSize, nrSubbufs });
    if (subbufSize < MIN_SUBBUF_SIZE || nrSubbufs < 3 || nrSubbufs > capacity || data.byteLength < length) {
      throw new TraceBufferError(ErrorCode.EINVAL, `not an initialised tracebuf bank: cpu=${cpu}`);
    }
    this.cpu = cpu;
    this.subbufSize = subbufSize;
    this.nrSubbufs = nrSubbufs;
    this.capacity = capacity;
    this.link = linkFormat(capacity);
    this.dataSize = subbufSize - SUBBUF_DATA_OFFSET;
    this.data = data;
    this.control = control;
    // Fixed-length views: as fast as over a plain SharedArrayBuffer (length-tracking views of a
    // growable one are not).
    this.u8 = new Uint8Array(data, 0, length);
    this.i32 = new Int32Array(data, 0, length / 4);
    this.view = new DataView(data, 0, length);
    this.ctl = ctl;
    this.nextBase = pageArrayIndex(NEXT_ARRAY, capacity, 0);
    this.prevBase = pageArrayIndex(PREV_ARRAY, capacity, 0);
    this.entriesBase = pageArrayIndex(PAGE_ENTRIES_ARRAY, capacity, 0);
    this.realEndBase = pageArrayIndex(REAL_END_ARRAY, capacity, 0);
  }

  /**
   * Allocates a bank for `capacity` sub-buffers at most and `maxBytes` of data at most; with a
   * geometry it is initialised as a fresh, empty CPU buffer, without one it stays empty (0 bytes)
   * until {@link initialize}.
   */
  static allocateBank(capacity: number, maxBytes: number, g?: Geometry): { data: SharedArrayBuffer; control: SharedArrayBuffer } {
    const data = new SharedArrayBuffer(0, { maxByteLength: maxBytes });
    const control = new SharedArrayBuffer(cpuControlLength(capacity));
    new Int32Array(control)[CAPACITY_INDEX] = capacity;
    if (g !== undefined) CpuBuffer.initialize(data, control, g);
    return { data, control };
  }

  /**
   * Reserves a bank for a cpu slot that is not online yet (a possible CPU): both
   * SharedArrayBuffers are growable and hold 0 bytes, so the slot costs address space only until
   * {@link commitControl} and {@link initialize} give it memory.
   */
  static reserveBank(capacity: number, maxBytes: number): { data: SharedArrayBuffer; control: SharedArrayBuffer } {
    return {
      data: new SharedArrayBuffer(0, { maxByteLength: maxBytes }),
      control: new SharedArrayBuffer(0, { maxByteLength: cpuControlLength(capacity) }),
    };
  }

  /** Gives a reserved bank's control block its memory (once; a no-op for an allocated one). */
  static commitControl(control: SharedArrayBuffer, capacity: number): void {
    if (control.byteLength !== 0) return;
    control.grow(control.maxByteLength);
    new Int32Array(control)[CAPACITY_INDEX] = capacity;
  }

  /**
   * Gives a bank a new life with geometry `g`: grows its data if needed, zeroes the mapping
   * object and every control word, and lays out a fresh ring. Only for a bank no thread uses
   * (not live, or live with producers shut out and no mapping). Bumps the bank generation, so a
   * snapshot that read this bank becomes stale. `ENOMEM` beyond the bank's limits.
   */
  static initialize(data: SharedArrayBuffer, control: SharedArrayBuffer, g: Geometry): void {
    const ctl = new Int32Array(control);
    const capacity = ctl[CAPACITY_INDEX]!;
    const length = cpuDataLength(g);
    if (g.nrSubbufs > capacity || length > data.maxByteLength) {
      throw new TraceBufferError(
        ErrorCode.ENOMEM,
        `buffer would exceed its per-cpu limits (${capacity} sub-buffers, ${data.maxByteLength} bytes; see maxBytesPerCpu): nrSubbufs=${g.nrSubbufs}`,
      );
    }
    // Bytes a grow adds are zero already (a fresh buffer, a slot coming online): only the bytes
    // of an earlier life are zeroed.
    const used = Math.min(data.byteLength, length);
    if (data.byteLength < length) data.grow(length);
    if (used > 0) new Uint8Array(data, 0, used).fill(0);
    const bankGen = ctl[BANK_GEN_INDEX]!;
    // The control word survives (recording off, a resetting bit held by the caller) with a new
    // generation: a producer that still holds this bank from an earlier life reloads its state
    // instead of writing on with offsets into the old ring.
    const keep = (Atomics.load(ctl, CTRL_INDEX) + CTRL_GEN_UNIT) | 0;
    ctl.fill(0);
    ctl[CAPACITY_INDEX] = capacity;
    ctl[SUBBUF_SIZE_INDEX] = g.subbufSize;
    ctl[NR_SUBBUFS_INDEX] = g.nrSubbufs;
    Atomics.store(ctl, CTRL_INDEX, keep);
    Atomics.store(ctl, BANK_GEN_INDEX, (bankGen + 1) | 0);
    const cb = new CpuBuffer(0, data, control);
    cb.#initRing();
    cb.#writeMetaConstants();
  }

  /**
   * Fresh ring, as the kernel assigns ids at first map: the reader sub-buffer is id 0, the
   * ring is 1 → 2 → … → n → 1, and the head (and tail) is id 1, so the link n → 1 carries HEAD.
   */
  #initRing(): void {
    const n = this.nrSubbufs - 1;
    const ctl = this.ctl;
    for (let id = 1; id <= n; id++) {
      const next = id === n ? 1 : id + 1;
      const prev = id === 1 ? n : id - 1;
      ctl[this.nextBase + id] = makeLink(this.link, next, next === 1 ? PageFlag.HEAD : PageFlag.NORMAL, 0);
      ctl[this.prevBase + id] = prev;
    }
    ctl[this.nextBase] = makeLink(this.link, 1, PageFlag.NORMAL, 0);
    ctl[this.prevBase] = 0;
    ctl[TAIL_PAGE_INDEX] = 1;
    ctl[BASE_PAGE_INDEX] = 1;
    ctl[PAGES_INDEX] = 1;
    ctl[HEAD_PAGE_INDEX] = 1;
    ctl[READER_PAGE_INDEX] = 0;
  }

  #writeMetaConstants(): void {
    const v = this.view;
    v.setUint32(META_PAGE_SIZE_OFFSET, this.subbufSize, true);
    v.setUint32(META_STRUCT_LEN_OFFSET, META_STRUCT_LENGTH, true);
    v.setUint32(META_SUBBUF_SIZE_OFFSET, this.subbufSize, true);
    v.setUint32(META_NR_SUBBUFS_OFFSET, this.nrSubbufs, true);
  }

  /** Byte offset of sub-buffer `id` in {@link data}. */
  subbufOffset(id: number): number {
    return (id + 1) * this.subbufSize;
  }

  /** Low 32 bits of the commit word of sub-buffer `id`, as an unsigned number. */
  commitWord(id: number): number {
    return Atomics.load(this.i32, (this.subbufOffset(id) + SUBBUF_COMMIT_OFFSET) >> 2) >>> 0;
  }

  /** The u64 page timestamp of sub-buffer `id`. */
  pageTimeStamp(id: number): number {
    const at = this.subbufOffset(id) + SUBBUF_TIME_STAMP_OFFSET;
    return (this.i32[(at >> 2) + 1]! >>> 0) * 4294967296 + (this.i32[at >> 2]! >>> 0);
  }

  // ----------------------------------------------------------------------------------------------
  // Reading the producer's side
  // ----------------------------------------------------------------------------------------------

  /**
   * Copies the producer's counters with one seqlock round on `wseq`: the producer changes them
   * only while `wseq` is odd. Returns a reused object (valid until the next call).
   */
  writerSnapshot(consistent = true): WriterSnapshot {
    const ctl = this.ctl;
    const s = this.#snap;
    // Two rounds, so that a producer writing flat out does not starve the reader: the words that
    // change only when the tail moves are read inside a `cross_seq` round (a few per sub-buffer),
    // and only the tail's commit word and event count inside a short `wseq` round.
    let since = 0;
    for (let round = 0; ; round++) {
      const cross = Atomics.load(ctl, CROSS_SEQ_INDEX);
      if ((cross & 1) === 0) {
        const tail = get(ctl, TAIL_PAGE_INDEX);
        const entriesBase = get64(ctl, ENTRIES_BASE_INDEX);
        const bytesBase = get64(ctl, ENTRIES_BYTES_BASE_INDEX);
        s.overrun = get64(ctl, OVERRUN_INDEX);
        s.droppedEvents = get64(ctl, DROPPED_EVENTS_INDEX) + (get(ctl, PENDING_DROPS_INDEX) >>> 0);
        s.pagesTouched = get(ctl, PAGES_TOUCHED_INDEX) >>> 0;
        s.pagesLost = get(ctl, PAGES_LOST_INDEX) >>> 0;
        const page = consistent ? this.#readPage(tail) : this.#peekPage(tail);
        if (Atomics.load(ctl, CROSS_SEQ_INDEX) === cross) {
          s.tailPage = tail;
          s.write = page.length;
          s.entries = entriesBase + page.entries;
          s.entriesBytes = bytesBase + page.length;
          return s;
        }
      }
      since = relax(round, since, 'producer counters');
    }
  }

  /**
   * Committed length and data-event count of sub-buffer `id`, consistent with each other. For
   * the sub-buffer the producer is on, read with a seqlock round; otherwise both are final.
   * Returns a reused object.
   */
  #readPage(id: number): { length: number; entries: number } {
    const ctl = this.ctl;
    const out = this.#pageRead;
    let since = 0;
    for (let round = 0; ; round++) {
      const seq = Atomics.load(ctl, WSEQ_INDEX);
      if ((seq & 1) === 0) {
        out.length = get(this.i32, (this.subbufOffset(id) + SUBBUF_COMMIT_OFFSET) >> 2) & COMMIT_LENGTH_MASK;
        out.entries = get(ctl, this.entriesBase + id);
        if (Atomics.load(ctl, WSEQ_INDEX) === seq) return out;
      }
      since = relax(round, since, 'sub-buffer commit');
    }
  }

  /**
   * Committed length and data-event count of sub-buffer `id` without a `wseq` round: the count
   * first, then the length (the producer stores them in the other order), so the count never
   * covers an event beyond the length but may miss the one being published. For the hot
   * reader paths (GET_READER, the meta page), where a seqlock round on the word the producer
   * stores per event would fail again and again against a producer writing flat out (each
   * round's loads are cache misses longer than the time between two events) and take the
   * producer's lines away at every try. Returns a reused object.
   */
  #peekPage(id: number): { length: number; entries: number } {
    const out = this.#pageRead;
    out.entries = Atomics.load(this.ctl, this.entriesBase + id);
    out.length = Atomics.load(this.i32, (this.subbufOffset(id) + SUBBUF_COMMIT_OFFSET) >> 2) & COMMIT_LENGTH_MASK;
    return out;
  }

  /**
   * The reader sub-buffer's committed length and event count, consistent with each other,
   * without a `wseq` round. Once the producer has left it (the tail is elsewhere) both are
   * final: the producer never comes back to the reader sub-buffer. While the producer is on it,
   * the length is read once and the events after what the reader already counted are counted
   * by walking their headers up to it, as the kernel's GET_READER walks its reader page.
   */
  #readReaderPage(reader: number): { length: number; entries: number } {
    const ctl = this.ctl;
    const out = this.#pageRead;
    if (Atomics.load(ctl, TAIL_PAGE_INDEX) !== reader) {
      out.length = Atomics.load(this.i32, (this.subbufOffset(reader) + SUBBUF_COMMIT_OFFSET) >> 2) & COMMIT_LENGTH_MASK;
      out.entries = Atomics.load(ctl, this.entriesBase + reader);
      return out;
    }
    const from = ctl[READER_READ_INDEX]!;
    const length = Atomics.load(this.i32, (this.subbufOffset(reader) + SUBBUF_COMMIT_OFFSET) >> 2) & COMMIT_LENGTH_MASK;
    out.length = length;
    out.entries = ctl[READER_READ_ENTRIES_INDEX]! + (length > from ? this.#countEvents(reader, from, length) : 0);
    return out;
  }

  /** Data events in bytes `from..to` of sub-buffer `id`'s data (committed, whole events). */
  #countEvents(id: number, from: number, to: number): number {
    const i32 = this.i32;
    const base = this.subbufOffset(id) + SUBBUF_DATA_OFFSET;
    let at = from;
    let events = 0;
    while (at < to) {
      const word = i32[(base + at) >> 2]!;
      const typeLen = word & 31;
      let step: number;
      if (typeLen === EventType.TIME_EXTEND || typeLen === EventType.TIME_STAMP) {
        step = TIME_EVENT_LENGTH;
      } else if (typeLen === EventType.PADDING) {
        // A null padding runs to the end; a discarded event has its length after the header.
        if (word >>> 5 === 0) break;
        step = i32[((base + at) >> 2) + 1]! + 4;
      } else {
        events++;
        step = typeLen === 0 ? i32[((base + at) >> 2) + 1]! + 4 : typeLen * 4 + 4;
      }
      // (Only our producer writes below the commit length; a length word that does not move
      // forward would mean damaged memory: stop rather than loop.)
      if (step < 4) break;
      at += step;
    }
    return events;
  }

  /** Committed length and data-event count of sub-buffer `id`, read consistently (a copy). */
  readPage(id: number): { length: number; entries: number } {
    const page = this.#readPage(id);
    return { length: page.length, entries: page.entries };
  }

  // ----------------------------------------------------------------------------------------------
  // Reader lock
  // ----------------------------------------------------------------------------------------------

  /** Takes the per-CPU reader lock (a compare-and-swap spin lock: critical sections are short). */
  lockReader(): void {
    let since = 0;
    for (let round = 0; Atomics.compareExchange(this.ctl, READER_LOCK_INDEX, 0, 1) !== 0; round++) {
      since = relax(round, since, 'reader lock');
    }
  }

  /** Releases the reader lock. */
  unlockReader(): void {
    Atomics.store(this.ctl, READER_LOCK_INDEX, 0);
  }

  // ----------------------------------------------------------------------------------------------
  // Reader swap (kernel rb_get_reader_page), GET_READER (ring_buffer_map_get_reader)
  // ----------------------------------------------------------------------------------------------

  /**
   * True when no committed event is unread: `entries − (overrun + read) == 0`, for GET_READER:
   * the tail's count without a wseq round, so it may miss the event being published (GET_READER
   * hands it out at the next call).
   */
  #empty(): boolean {
    this.#loadCounts();
    return this.#entriesNow - this.#overrunNow - read64(this.ctl, READ_INDEX) === 0;
  }

  /**
   * Finds the head sub-buffer: the one whose predecessor's link carries HEAD. Starts from the
   * cached head; while a producer holds the link in UPDATE (pushing the head), waits for it.
   */
  #findHead(): number {
    const ctl = this.ctl;
    const f = this.link;
    const n = this.nrSubbufs;
    let id = ctl[HEAD_PAGE_INDEX]!;
    let since = 0;
    for (let round = 0; ; round++) {
      for (let step = 0; step < 3 * n; step++) {
        const link = Atomics.load(ctl, this.nextBase + ctl[this.prevBase + id]!);
        if (linkId(f, link) === id) {
          const flag = link & PAGE_FLAG_MASK;
          if (flag === PageFlag.HEAD) {
            this.#headLink = link;
            return id;
          }
          if (flag === PageFlag.UPDATE) break;
        }
        id = linkId(f, Atomics.load(ctl, this.nextBase + id));
      }
      since = relax(round, since, 'head page');
    }
  }

  /**
   * The head sub-buffer now, found the way the reader swap finds it (robust against a producer
   * pushing the head meanwhile; waits out an UPDATE). For readers holding the reader lock.
   */
  headPage(): number {
    return this.#findHead();
  }

  /** The link value `prev → head|HEAD` {@link #findHead} saw (generation included). */
  #headLink = 0;

  /**
   * Swaps the (fully read) reader sub-buffer with the head, following kernel-semantics §4.2: the old
   * reader sub-buffer takes the head's place in the ring with HEAD on its link to the head's
   * successor; one compare-and-swap on the predecessor's link races the producer's head push.
   * Returns the new reader id, or -1 when there is nothing to swap in. Caller holds the lock.
   */
  #getReaderPage(): number {
    const ctl = this.ctl;
    for (let attempt = 0; attempt < 3; attempt++) {
      const reader = ctl[READER_PAGE_INDEX]!;
      const page = this.#readReaderPage(reader);
      if (ctl[READER_READ_INDEX]! < page.length) return reader;
      if (Atomics.load(ctl, TAIL_PAGE_INDEX) === reader) return -1;
      // (The caller has just found the buffer not empty: look again only on a retry.)
      if (attempt > 0 && this.#empty()) return -1;

      // The old reader sub-buffer goes back into the ring: the producer resets it when it
      // moves onto it; its counts restart now.
      ctl[this.entriesBase + reader] = 0;
      ctl[this.realEndBase + reader] = 0;

      let head: number;
      let prev: number;
      let overrun: number;
      for (;;) {
        head = this.#findHead();
        prev = ctl[this.prevBase + head]!;
        const expected = this.#headLink;
        const f = this.link;
        const next = linkId(f, Atomics.load(ctl, this.nextBase + head));
        const own = Atomics.load(ctl, this.nextBase + reader);
        Atomics.store(ctl, this.nextBase + reader, makeLink(f, next, PageFlag.HEAD, linkGen(f, own) + 1));
        ctl[this.prevBase + reader] = prev;
        overrun = this.writerSnapshot(false).overrun;
        if (interleaveHook !== undefined) interleaveHook(InterleavePoint.READER_SWAP_BEFORE_CAS, this.cpu);
        // The exact value seen, generation included: a producer that went round the ring meanwhile
        // set HEAD here again with a newer generation, and this fails (no ABA).
        const replacement = makeLink(f, reader, PageFlag.NORMAL, linkGen(f, expected) + 1);
        if (Atomics.compareExchange(ctl, this.nextBase + prev, expected, replacement) === expected) {
          ctl[this.prevBase + next] = reader;
          ctl[HEAD_PAGE_INDEX] = next;
          // As the kernel moves cpu_buffer->pages off the swapped page: to its predecessor.
          ctl[PAGES_INDEX] = prev;
          break;
        }
      }
      ctl[PAGES_READ_INDEX] = (ctl[PAGES_READ_INDEX]! + 1) | 0;
      ctl[READER_PAGE_INDEX] = head;
      ctl[READER_READ_INDEX] = 0;
      ctl[READER_READ_ENTRIES_INDEX] = 0;
      const last = read64(ctl, LAST_OVERRUN_INDEX);
      if (overrun !== last) {
        write64(ctl, LOST_EVENTS_INDEX, overrun - last);
        write64(ctl, LAST_OVERRUN_INDEX, overrun);
      }
    }
    return -1;
  }

  /**
   * Marks the reader sub-buffer `id` with the missed-events flags (kernel-semantics §5.5 step 8): the
   * length falls back to `real_end` (hiding the end padding), the count is stored after the data
   * when 8 bytes remain, bit 31 is set, and the high half of the 8-byte commit word is all ones,
   * as the kernel's sign-extending `local_add` leaves it on x86-64.
   */
  #markMissed(id: number, lost: number): void {
    const base = this.subbufOffset(id);
    const realEnd = this.ctl[this.realEndBase + id]!;
    let length = this.commitWord(id) & COMMIT_LENGTH_MASK;
    if (realEnd !== 0) length = realEnd;
    let flags = RB_MISSED_EVENTS;
    if (this.dataSize - length >= MISSED_COUNT_LENGTH) {
      setU64(this.view, base + SUBBUF_DATA_OFFSET + length, lost);
      flags |= RB_MISSED_STORED;
    }
    const at = (base + SUBBUF_COMMIT_OFFSET) >> 2;
    this.i32[at + 1] = -1;
    Atomics.store(this.i32, at, (length | flags) | 0);
  }

  /**
   * `TRACE_MMAP_IOCTL_GET_READER`, kernel-semantics §5.5 steps 4–10, in the calling thread: hand out
   * the rest of the reader sub-buffer if it has unread data, else swap in at most one sub-buffer
   * (flagging lost events), count what was handed out as read — in O(1), from the per-sub-buffer
   * event counts — and refresh the meta page. Caller checked that the buffer is mapped.
   */
  getReader(): void {
    const ctl = this.ctl;
    this.lockReader();
    try {
      if (this.#getReaderOnTail()) return;
      for (let swappedIn = false; ; ) {
        // (Right after a swap the new reader sub-buffer has data: no need to look, once.)
        if (!swappedIn && this.#empty()) break;
        swappedIn = false;
        const reader = ctl[READER_PAGE_INDEX]!;
        const page = this.#readReaderPage(reader);
        if (interleaveHook !== undefined) interleaveHook(InterleavePoint.READER_AFTER_READ_PAGE, this.cpu);
        const readerRead = ctl[READER_READ_INDEX]!;
        if (readerRead < page.length) {
          write64(ctl, READ_INDEX, read64(ctl, READ_INDEX) + page.entries - ctl[READER_READ_ENTRIES_INDEX]!);
          write64(ctl, READ_BYTES_INDEX, read64(ctl, READ_BYTES_INDEX) + page.length - readerRead);
          ctl[READER_READ_INDEX] = page.length;
          ctl[READER_READ_ENTRIES_INDEX] = page.entries;
          break;
        }
        if (Atomics.load(ctl, TAIL_PAGE_INDEX) === reader) break;
        const swapped = this.#getReaderPage();
        if (swapped < 0) break;
        swappedIn = true;
        // The producer added to the reader sub-buffer and left it meanwhile: hand that out.
        if (swapped === reader) continue;
        const lost = read64(ctl, LOST_EVENTS_INDEX);
        if (lost !== 0) {
          if (Atomics.load(ctl, TAIL_PAGE_INDEX) !== swapped) this.#markMissed(swapped, lost);
          else write64(ctl, LOST_UNREPORTED_INDEX, read64(ctl, LOST_UNREPORTED_INDEX) + lost);
          write64(ctl, LOST_EVENTS_INDEX, 0);
        }
      }
      this.refreshMeta();
    } finally {
      this.unlockReader();
    }
  }

  /**
   * True when the reader sub-buffer is the one the producer writes (the reader has caught up).
   * Reads the reader's own line and the crossing line only; a hint, not under the lock.
   */
  readerOnTail(): boolean {
    return this.ctl[READER_PAGE_INDEX] === Atomics.load(this.ctl, TAIL_PAGE_INDEX);
  }

  /**
   * GET_READER while the producer writes on the reader sub-buffer (the consumer has caught up):
   * hands out what was committed there since the last call and refreshes the meta page, reading
   * only the crossing line (inside a `cross_seq` round: the tail stays put), the commit word,
   * the new events and, for the meta page, the sub-buffer's event count — never `wseq`, so it
   * does not wait for a publish in progress (as the kernel's reader does not wait for its
   * writer). Returns false (nothing done) when the reader is elsewhere or the tail moved
   * meanwhile; the general path runs then. Caller holds the lock.
   */
  #getReaderOnTail(): boolean {
    const ctl = this.ctl;
    const cross = Atomics.load(ctl, CROSS_SEQ_INDEX);
    if ((cross & 1) !== 0) return false;
    const reader = ctl[READER_PAGE_INDEX]!;
    if (get(ctl, TAIL_PAGE_INDEX) !== reader) return false;
    const entriesBase = get64(ctl, ENTRIES_BASE_INDEX);
    const overrun = get64(ctl, OVERRUN_INDEX);
    const length = Atomics.load(this.i32, (this.subbufOffset(reader) + SUBBUF_COMMIT_OFFSET) >> 2) & COMMIT_LENGTH_MASK;
    if (Atomics.load(ctl, CROSS_SEQ_INDEX) !== cross) return false;
    if (interleaveHook !== undefined) interleaveHook(InterleavePoint.READER_AFTER_READ_PAGE, this.cpu);
    const readerRead = ctl[READER_READ_INDEX]!;
    let readerEntries = ctl[READER_READ_ENTRIES_INDEX]!;
    if (readerRead < length) {
      const events = this.#countEvents(reader, readerRead, length);
      write64(ctl, READ_INDEX, read64(ctl, READ_INDEX) + events);
      write64(ctl, READ_BYTES_INDEX, read64(ctl, READ_BYTES_INDEX) + length - readerRead);
      readerEntries += events;
      ctl[READER_READ_INDEX] = length;
      ctl[READER_READ_ENTRIES_INDEX] = readerEntries;
    }
    // The meta page's entries as the kernel's: the count now, which may include events
    // committed after the length above (the count lags the commit word by at most the event
    // being published, hence the max). A tail move meanwhile: the general refresh.
    const entries = entriesBase + Math.max(readerEntries, Atomics.load(ctl, this.entriesBase + reader));
    if (Atomics.load(ctl, CROSS_SEQ_INDEX) === cross) this.#writeMeta(entries, overrun);
    else this.refreshMeta();
    return true;
  }

  /**
   * Writes the live values into the meta page (kernel-semantics §5.2): at map, at the end of every
   * GET_READER, at reset. Caller holds the reader lock.
   */
  refreshMeta(): void {
    this.#loadCounts();
    this.#writeMeta(this.#entriesNow, this.#overrunNow);
  }

  /** Set by {@link #loadCounts}: committed events and overrun, from one consistent moment. */
  #entriesNow = 0;
  #overrunNow = 0;

  /**
   * Only what GET_READER's emptiness test and the meta page need (entries, overrun), in a
   * `cross_seq` round, the tail's count without a `wseq` round (count of §3.3's hot paths). Reads
   * the crossing line and the tail's count, nothing on the producer's publish line.
   */
  #loadCounts(): void {
    const ctl = this.ctl;
    let since = 0;
    for (let round = 0; ; round++) {
      const cross = Atomics.load(ctl, CROSS_SEQ_INDEX);
      if ((cross & 1) === 0) {
        const tail = get(ctl, TAIL_PAGE_INDEX);
        const entries = get64(ctl, ENTRIES_BASE_INDEX) + Atomics.load(ctl, this.entriesBase + tail);
        const overrun = get64(ctl, OVERRUN_INDEX);
        if (Atomics.load(ctl, CROSS_SEQ_INDEX) === cross) {
          this.#entriesNow = entries;
          this.#overrunNow = overrun;
          return;
        }
      }
      since = relax(round, since, 'producer counters');
    }
  }

  #writeMeta(entries: number, overrun: number): void {
    const ctl = this.ctl;
    if (LITTLE_ENDIAN) {
      // Whole words (the meta fields are 8-aligned): a few times cheaper than DataView stores.
      const i32 = this.i32;
      const lost = read64(ctl, LOST_EVENTS_INDEX);
      const read = read64(ctl, READ_INDEX);
      i32[META_READER_LOST_EVENTS_OFFSET >> 2] = lost % 4294967296;
      i32[(META_READER_LOST_EVENTS_OFFSET >> 2) + 1] = lost / 4294967296;
      i32[META_READER_ID_OFFSET >> 2] = ctl[READER_PAGE_INDEX]!;
      i32[META_READER_READ_OFFSET >> 2] = ctl[READER_READ_INDEX]!;
      i32[META_FLAGS_OFFSET >> 2] = 0;
      i32[(META_FLAGS_OFFSET >> 2) + 1] = 0;
      i32[META_ENTRIES_OFFSET >> 2] = entries % 4294967296;
      i32[(META_ENTRIES_OFFSET >> 2) + 1] = entries / 4294967296;
      i32[META_OVERRUN_OFFSET >> 2] = overrun % 4294967296;
      i32[(META_OVERRUN_OFFSET >> 2) + 1] = overrun / 4294967296;
      i32[META_READ_OFFSET >> 2] = read % 4294967296;
      i32[(META_READ_OFFSET >> 2) + 1] = read / 4294967296;
      return;
    }
    const v = this.view;
    setU64(v, META_READER_LOST_EVENTS_OFFSET, read64(ctl, LOST_EVENTS_INDEX));
    v.setUint32(META_READER_ID_OFFSET, ctl[READER_PAGE_INDEX]!, true);
    v.setUint32(META_READER_READ_OFFSET, ctl[READER_READ_INDEX]!, true);
    setU64(v, META_FLAGS_OFFSET, 0);
    setU64(v, META_ENTRIES_OFFSET, entries);
    setU64(v, META_OVERRUN_OFFSET, overrun);
    setU64(v, META_READ_OFFSET, read64(ctl, READ_INDEX));
  }

  // ----------------------------------------------------------------------------------------------
  // Waiting (kernel-semantics §6)
  // ----------------------------------------------------------------------------------------------

  /**
   * `full_hit`: at least `percent` % of the ring's sub-buffers are dirty (written and not yet
   * taken by the reader), counting the one the producer is on; 0 is always hit.
   */
  fullHit(percent: number, pagesTouched: number, pagesLost: number): boolean {
    if (percent === 0) return true;
    // 32-bit page counters wrap; their difference taken modulo 2^32 does not.
    const dirty = ((pagesTouched - pagesLost - Atomics.load(this.ctl, PAGES_READ_INDEX)) | 0) + 1;
    return dirty * 100 >= percent * (this.nrSubbufs - 1);
  }

  /**
   * `rb_watermark_hit`: there is unread data and, for a non-zero `percent`, the producer is off
   * the reader sub-buffer and the watermark is reached.
   */
  watermarkHit(percent: number, consistent = true): boolean {
    // `consistent` (a wseq round) for prepareWait()'s re-check after registering: it must see a
    // commit whose producer loaded ctrl before the waiter bit was set; the round waits for that
    // commit's even wseq, after which its count is visible (design §3.3). The first look needs
    // no round (a miss there is caught by the re-check) and so never waits for a producer.
    const w = this.writerSnapshot(consistent);
    if (w.entries - w.overrun - read64(this.ctl, READ_INDEX) === 0) return false;
    if (percent === 0) return true;
    return w.tailPage !== Atomics.load(this.ctl, READER_PAGE_INDEX) && this.fullHit(percent, w.pagesTouched, w.pagesLost);
  }

  /**
   * Prepares a wait: returns the wake sequence to wait on, or -1 when the watermark is already
   * hit. Registers the waiter (the any-data bit for 0, else the watermark bit and — only when
   * the buffer is not empty, as in the kernel — the smallest watermark), then checks again, so
   * a commit between the first check and the registration is not missed.
   */
  prepareWait(percent: number): number {
    const ctl = this.ctl;
    const seq = Atomics.load(ctl, WAKE_SEQ_INDEX);
    if (this.watermarkHit(percent, false)) return -1;
    if (percent === 0) {
      Atomics.or(ctl, CTRL_INDEX, WAIT_ANY);
    } else {
      Atomics.or(ctl, CTRL_INDEX, WAIT_FULL);
      // (As the kernel's rb_watermark_hit: an unlocked look; the re-check below is the exact one.)
      if (!this.#empty()) {
        for (;;) {
          const shortest = Atomics.load(ctl, SHORTEST_FULL_INDEX);
          if (shortest !== 0 && shortest <= percent) break;
          if (Atomics.compareExchange(ctl, SHORTEST_FULL_INDEX, shortest, percent) === shortest) break;
        }
      }
    }
    return this.watermarkHit(percent) ? -1 : seq;
  }

  /** How many wake-ups this CPU buffer has had (for tests and tools). */
  wakeSequence(): number {
    return Atomics.load(this.ctl, WAKE_SEQ_INDEX);
  }

  /** Wakes every waiter of this CPU buffer. */
  wake(): void {
    Atomics.add(this.ctl, WAKE_SEQ_INDEX, 1);
    Atomics.notify(this.ctl, WAKE_SEQ_INDEX);
  }

  // ----------------------------------------------------------------------------------------------
  // Mapping bookkeeping
  // ----------------------------------------------------------------------------------------------

  /** Counts one more mapping; the first one refreshes the meta page. */
  addMapping(): void {
    this.lockReader();
    try {
      if (Atomics.add(this.ctl, MAPPED_INDEX, 1) === 0) this.refreshMeta();
    } finally {
      this.unlockReader();
    }
  }

  /** Counts one mapping less. */
  removeMapping(): void {
    Atomics.sub(this.ctl, MAPPED_INDEX, 1);
  }

  /** Number of live mappings of this CPU buffer. */
  mappings(): number {
    return Atomics.load(this.ctl, MAPPED_INDEX);
  }

  // ----------------------------------------------------------------------------------------------
  // Recording and reset
  // ----------------------------------------------------------------------------------------------

  /** Sets or clears `bits` of the control word with a compare-and-swap loop; returns the new value. */
  #updateCtrl(set: number, clear: number, add = 0): number {
    for (;;) {
      const old = Atomics.load(this.ctl, CTRL_INDEX);
      const value = ((old & ~clear) | set) + add;
      if (Atomics.compareExchange(this.ctl, CTRL_INDEX, old, value | 0) === old) return value | 0;
    }
  }

  /** Turns recording on or off (`tracing_on`); producers check it at every reserve. */
  setRecording(on: boolean): void {
    if (on) this.#updateCtrl(0, CTRL_RECORD_OFF);
    else this.#updateCtrl(CTRL_RECORD_OFF, 0);
  }

  /** True while recording is on. */
  recording(): boolean {
    return (Atomics.load(this.ctl, CTRL_INDEX) & CTRL_RECORD_OFF) === 0;
  }

  /**
   * Empties the CPU buffer (kernel `rb_reset_cpu`), also while it is mapped and while a
   * producer runs in another thread. The resetting bit makes producers refuse writes, and the
   * wait for an even `wseq` (after setting it: a Dekker pairing with the producer, which sets
   * `wseq` odd and then reads `ctrl`) makes sure no producer is publishing or moving the tail.
   * A producer that reserved before the reset finds the new generation at commit and drops the
   * reservation. The ring keeps its order; head and tail restart on the current head; the reader
   * sub-buffer keeps its id with length 0; every counter restarts at 0; the meta page is
   * refreshed at once.
   */
  reset(): void {
    const ctl = this.ctl;
    this.lockReader();
    try {
      this.stopProducers();
      this.#checkHead();
      // The kernel restarts on cpu_buffer->pages (rb_reset_cpu), whatever the head was.
      const head = ctl[PAGES_INDEX]!;
      const n = this.nrSubbufs;
      for (let id = 0; id < n; id++) {
        const link = Atomics.load(ctl, this.nextBase + id);
        Atomics.store(ctl, this.nextBase + id, link & ~PAGE_FLAG_MASK);
        ctl[this.entriesBase + id] = 0;
        ctl[this.realEndBase + id] = 0;
        const at = (this.subbufOffset(id) + SUBBUF_COMMIT_OFFSET) >> 2;
        this.i32[at + 1] = 0;
        Atomics.store(this.i32, at, 0);
      }
      const prev = ctl[this.prevBase + head]!;
      const into = Atomics.load(ctl, this.nextBase + prev);
      Atomics.store(ctl, this.nextBase + prev, makeLink(this.link, head, PageFlag.HEAD, linkGen(this.link, into) + 1));
      ctl[HEAD_PAGE_INDEX] = head;
      ctl[TAIL_PAGE_INDEX] = head;
      ctl[BASE_PAGE_INDEX] = head;
      for (const index of [ENTRIES_BASE_INDEX, ENTRIES_BYTES_BASE_INDEX, OVERRUN_INDEX, DROPPED_EVENTS_INDEX]) write64(ctl, index, 0);
      Atomics.store(ctl, PENDING_DROPS_INDEX, 0);
      ctl[PAGES_TOUCHED_INDEX] = 0;
      ctl[PAGES_LOST_INDEX] = 0;
      ctl[READER_READ_INDEX] = 0;
      ctl[READER_READ_ENTRIES_INDEX] = 0;
      ctl[PAGES_READ_INDEX] = 0;
      for (const index of [READ_INDEX, READ_BYTES_INDEX, LOST_EVENTS_INDEX, LAST_OVERRUN_INDEX, LOST_UNREPORTED_INDEX]) {
        write64(ctl, index, 0);
      }
      this.resumeProducers();
      if (this.mappings() > 0) this.refreshMeta();
    } finally {
      this.unlockReader();
    }
  }

  /**
   * Shuts producers out: sets RESETTING, then waits for an even `wseq` (a Dekker pairing with
   * the producer, which sets `wseq` odd and then reads `ctrl`), so no producer is publishing or
   * moving the tail, and none will until {@link resumeProducers}. Caller holds the reader lock.
   * If a producer died inside its critical section the wait gives up with `EFAULT` and changes
   * nothing (recover() it first).
   */
  stopProducers(): void {
    this.#updateCtrl(CTRL_RESETTING, 0);
    try {
      let since = 0;
      for (let round = 0; (Atomics.load(this.ctl, WSEQ_INDEX) & 1) !== 0; round++) since = relax(round, since, 'producer');
    } catch (err) {
      this.#updateCtrl(0, CTRL_RESETTING);
      throw err;
    }
  }

  /** Lets producers in again, with a new generation: they reload their state at the next write. */
  resumeProducers(): void {
    this.#updateCtrl(0, CTRL_RESETTING, CTRL_GEN_UNIT);
  }

  /** True while a snapshot or resize may proceed: no mapping and no internal reader on this bank. */
  unmapped(): boolean {
    return Atomics.load(this.ctl, MAPPED_INDEX) === 0;
  }

  /** Writes the constant meta fields (after a resize changed `nr_subbufs`). */
  writeMetaConstants(): void {
    this.#writeMetaConstants();
  }

  /**
   * Takes back the slot of a producer whose thread died (crashed or was terminated), possibly
   * inside its publish sequence. The caller asserts that the owner is dead. A half-published
   * event is rolled forward to what the commit word says (the tail sub-buffer is recounted, so
   * a half-written event is never visible); a half-done tail move is completed; a head push left
   * in UPDATE is finished. Returns true when a critical section had to be repaired.
   */
  recoverProducer(): boolean {
    const ctl = this.ctl;
    this.lockReader();
    try {
      const seq = Atomics.load(ctl, WSEQ_INDEX);
      const repaired = (seq & 1) !== 0;
      if (repaired) {
        this.#finishPush();
        let tail = ctl[TAIL_PAGE_INDEX]!;
        const basePage = ctl[BASE_PAGE_INDEX]!;
        if (basePage !== tail) {
          // Died after naming the move (base_page) but before publishing the new tail: finish
          // the move from the values it staged first.
          store64(ctl, ENTRIES_BASE_INDEX, load64(ctl, STAGED_ENTRIES_BASE_INDEX));
          store64(ctl, ENTRIES_BYTES_BASE_INDEX, load64(ctl, STAGED_BYTES_BASE_INDEX));
          Atomics.store(ctl, PAGES_TOUCHED_INDEX, Atomics.load(ctl, STAGED_PAGES_TOUCHED_INDEX));
          this.#emptyPage(basePage);
          Atomics.store(ctl, TAIL_PAGE_INDEX, basePage);
          tail = basePage;
        }
        const cross = Atomics.load(ctl, CROSS_SEQ_INDEX);
        if ((cross & 1) !== 0) Atomics.store(ctl, CROSS_SEQ_INDEX, cross + 1);
        ctl[this.entriesBase + tail] = this.#recount(tail);
        Atomics.store(ctl, WSEQ_INDEX, seq + 1);
      }
      return repaired;
    } finally {
      this.unlockReader();
    }
  }

  /**
   * Finishes a head push a dead producer left with an UPDATE link: its counters take the values
   * it staged before the swap to UPDATE (idempotent), HEAD moves to the successor, the link
   * goes back to NORMAL.
   */
  #finishPush(): void {
    const ctl = this.ctl;
    for (let id = 0; id < this.nrSubbufs; id++) {
      const link = Atomics.load(ctl, this.nextBase + id);
      if ((link & PAGE_FLAG_MASK) !== PageFlag.UPDATE) continue;
      store64(ctl, OVERRUN_INDEX, load64(ctl, STAGED_OVERRUN_INDEX));
      store64(ctl, ENTRIES_BYTES_BASE_INDEX, load64(ctl, STAGED_PUSH_BYTES_INDEX));
      Atomics.store(ctl, PAGES_LOST_INDEX, Atomics.load(ctl, STAGED_PAGES_LOST_INDEX));
      const f = this.link;
      const head = linkId(f, link);
      const after = Atomics.load(ctl, this.nextBase + head);
      if ((after & PAGE_FLAG_MASK) !== PageFlag.HEAD) {
        Atomics.store(ctl, this.nextBase + head, makeLink(f, linkId(f, after), PageFlag.HEAD, linkGen(f, after) + 1));
      }
      Atomics.store(ctl, this.nextBase + id, link & ~PAGE_FLAG_MASK);
    }
  }

  #emptyPage(id: number): void {
    this.ctl[this.entriesBase + id] = 0;
    this.ctl[this.realEndBase + id] = 0;
    const at = (this.subbufOffset(id) + SUBBUF_COMMIT_OFFSET) >> 2;
    this.i32[at + 1] = 0;
    Atomics.store(this.i32, at, 0);
  }

  /** Counts the data events of sub-buffer `id` up to its commit. */
  #recount(id: number): number {
    const r = new SubbufReader().load(this.u8, this.subbufOffset(id));
    let entries = 0;
    while (r.next()) entries++;
    return entries;
  }


  /** Checks that the ring has its head link (an invariant; `EFAULT` if broken). */
  #checkHead(): number {
    const ctl = this.ctl;
    const reader = ctl[READER_PAGE_INDEX]!;
    for (let id = 0; id < this.nrSubbufs; id++) {
      if (id === reader) continue;
      const link = Atomics.load(ctl, this.nextBase + id);
      if ((link & PAGE_FLAG_MASK) !== PageFlag.NORMAL) return linkId(this.link, link);
    }
    throw new TraceBufferError(ErrorCode.EFAULT, `ring has no head link: cpu=${this.cpu}`);
  }
}

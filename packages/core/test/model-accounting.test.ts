/**
 * Seeded model test of the ring buffer's ACCOUNTING (not its memory).
 *
 * `AccountingModel` below is a small, independent re-statement of the kernel rules in
 * docs/kernel-semantics.md: event sizes (§2.3), end-of-sub-buffer padding
 * (§2.5), moving the tail and pushing the head (§3.5, §3.6), the reader swap (§4.2),
 * `GET_READER` with the missed-events flags (§5.5), the stats counters (§7) and reset (§5.7). It
 * imports nothing from core. Random operation sequences run against the model and a real
 * `TraceBuffer` side by side, and every observable value is compared after every operation.
 *
 * Replay one seed: `TRACEBUF_SEED=<n> npx vitest run packages/core/test/model-accounting.test.ts`
 * (the seed also picks the geometry and the mode; a failure message names both).
 */
import { describe, expect, it } from 'vitest';
import { SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '../src/index.js';
import type { Mapping, Producer } from '../src/index.js';

// ------------------------------------------------------------------------------------------------
// Kernel facts the model uses, restated from docs/kernel-semantics.md (not imported from core)
// ------------------------------------------------------------------------------------------------

/** §1.1: the sub-buffer header (time_stamp u64, commit u64) before the data area. */
const HEADER_LENGTH = 16;
/** §1.1: byte offset of the commit word in a sub-buffer. */
const COMMIT_OFFSET = 8;
/** §1.2: bit 31 of the commit word, events were lost before this sub-buffer. */
const MISSED_EVENTS = 0x8000_0000;
/** §1.2: bit 30 of the commit word, the lost count is stored after the data. */
const MISSED_STORED = 0x4000_0000;
/** §1.2: the committed length is the low 30 bits. */
const LENGTH_MASK = 0x3fff_ffff;
/** §1.2: the stored count is an unsigned long (8 bytes). */
const MISSED_COUNT_LENGTH = 8;
/** §2.5: smallest discarded-padding event; with less room left a 4-byte null padding is written. */
const MIN_DISCARD_LENGTH = 8;
/** §2.2: largest short-form payload (28 words). */
const SHORT_PAYLOAD_MAX = 112;

/** §2.3, steps 1–5: total bytes of a data event with a payload of `payload` bytes. */
function kernelEventLength(payload: number): number {
  let length = payload === 0 ? 1 : payload;
  if (length > SHORT_PAYLOAD_MAX) length += 4;
  length += 4;
  length = Math.ceil(length / 4) * 4;
  return length === 12 ? 16 : length;
}

// ------------------------------------------------------------------------------------------------
// The model
// ------------------------------------------------------------------------------------------------

/** One committed event as the model remembers it. */
interface ModelEvent {
  /** Sequence number of the write (also encoded in the payload). */
  readonly seq: number;
  /** Payload bytes asked for. */
  readonly payload: number;
  /** Bytes the event occupies (§2.3). */
  readonly size: number;
}

/** One sub-buffer: its bpage bookkeeping and what its commit word says. */
interface ModelPage {
  readonly id: number;
  /** Committed length of the data area (commit word, flags removed). */
  length: number;
  /** RB_MISSED_* flags set by GET_READER. */
  flags: number;
  /** The count stored after the data when RB_MISSED_STORED is set. */
  stored: number;
  /** `real_end`: the end of the data before the end padding (0 = no padding). */
  realEnd: number;
  /** The events on the page; their number is the bpage `entries`. */
  events: ModelEvent[];
  /** False for an old reader page put back into the ring and not yet re-entered by the writer. */
  entered: boolean;
}

/** Which ring page a reset restarts on. */
type ResetRule =
  /** tracebuf (core `CpuBuffer.reset`): the current head. */
  | 'current-head'
  /** Linux `rb_reset_cpu`: `cpu_buffer->pages`, the head's predecessor at the last reader swap. */
  | 'kernel-pages';

/** What one GET_READER did, according to the model. */
interface GetReaderOutcome {
  /** A new sub-buffer was swapped in. */
  swapped: boolean;
  /** The events handed out by this call, in order. */
  handedOut: readonly ModelEvent[];
  /** Lost events attributed to the swapped-in page (0 if none). */
  lost: number;
}

/** How often each rule of the model fired (to prove the seeds exercise every path). */
interface Coverage {
  padFull: number;
  padNull: number;
  padDiscard: number;
  leaveReaderPage: number;
  pushHead: number;
  dropNewest: number;
  swap: number;
  handOutSamePage: number;
  handOutPaddingOnly: number;
  markStored: number;
  markUnknown: number;
  markRealEnd: number;
  lostUnflaggable: number;
  resetAfterSwap: number;
}

function emptyCoverage(): Coverage {
  return {
    padFull: 0,
    padNull: 0,
    padDiscard: 0,
    leaveReaderPage: 0,
    pushHead: 0,
    dropNewest: 0,
    swap: 0,
    handOutSamePage: 0,
    handOutPaddingOnly: 0,
    markStored: 0,
    markUnknown: 0,
    markRealEnd: 0,
    lostUnflaggable: 0,
    resetAfterSwap: 0,
  };
}

/** A broken assumption of the model itself (not a disagreement with core). */
function modelBroken(what: string): never {
  throw new Error(`model assumption broken: ${what}`);
}

/**
 * The kernel's ring-buffer accounting for one CPU buffer with a single, never-nested writer.
 * Pages are identified by mmap id; the ring is kept as an array in ring order plus the head's
 * position in it (§3.1: the HEAD flag sits on the link into `ring[headPos]`).
 */
class AccountingModel {
  readonly dataSize: number;
  /** Ring pages (`nr_pages`); the reader page is not counted. */
  readonly n: number;
  readonly overwrite: boolean;
  readonly resetRule: ResetRule;
  readonly pages: ModelPage[] = [];
  readonly coverage: Coverage = emptyCoverage();

  /** Ring page ids in ring order. */
  ring: number[] = [];
  headPos = 0;
  tail = 1;
  reader = 0;
  /** Kernel `cpu_buffer->pages`: the head at allocation, then the head's predecessor at each swap. */
  pagesAnchor = 1;
  /** Bytes of the reader page consumed (`reader_page->read`). */
  readerRead = 0;
  /** Events of the reader page consumed. */
  readerReadEntries = 0;

  entries = 0;
  overrun = 0;
  dropped = 0;
  entriesBytes = 0;
  read = 0;
  readBytes = 0;
  lostEvents = 0;
  lastOverrun = 0;
  lostUnreported = 0;
  pagesTouched = 0;
  pagesLost = 0;
  pagesRead = 0;

  constructor(subbufSize: number, nrSubbufs: number, overwrite: boolean, resetRule: ResetRule) {
    this.dataSize = subbufSize - HEADER_LENGTH;
    this.n = nrSubbufs - 1;
    this.overwrite = overwrite;
    this.resetRule = resetRule;
    for (let id = 0; id < nrSubbufs; id++) {
      this.pages.push({ id, length: 0, flags: 0, stored: 0, realEnd: 0, events: [], entered: true });
    }
    // DESIGN §2 / kernel first map: reader id 0, ring 1..n, head = tail = 1.
    for (let id = 1; id <= this.n; id++) this.ring.push(id);
  }

  page(id: number): ModelPage {
    return this.pages[id] ?? modelBroken(`no page ${id}`);
  }

  ringAt(pos: number): number {
    return this.ring[((pos % this.n) + this.n) % this.n] ?? modelBroken(`no ring position ${pos}`);
  }

  get headId(): number {
    return this.ringAt(this.headPos);
  }

  /** Unread events (§4.3): `entries − (overrun + read)`. */
  get unread(): number {
    return this.entries - this.overrun - this.read;
  }

  /** `ring_buffer_write`: reserve + commit of one event. Returns false when dropped. */
  write(seq: number, payload: number): boolean {
    const size = kernelEventLength(payload);
    if (this.page(this.tail).length + size > this.dataSize && !this.moveTail()) return false;
    const tail = this.page(this.tail);
    tail.length += size;
    tail.events.push({ seq, payload, size });
    this.entries++;
    this.entriesBytes += size;
    return true;
  }

  /** §3.5 `rb_move_tail` with §2.5 `rb_reset_tail`, at nesting depth 1 (commit page = tail page). */
  moveTail(): boolean {
    const tail = this.page(this.tail);
    const rest = this.dataSize - tail.length;
    if (rest === 0) {
      tail.realEnd = 0;
      this.coverage.padFull++;
    } else if (rest < MIN_DISCARD_LENGTH) {
      // Null padding outside the commit; the committed length stays.
      tail.realEnd = tail.length;
      this.coverage.padNull++;
    } else {
      // Discarded padding inside the commit, counted into entries_bytes.
      tail.realEnd = tail.length;
      tail.length = this.dataSize;
      this.entriesBytes += rest;
      this.coverage.padDiscard++;
    }

    let next: number;
    if (this.tail === this.reader) {
      // The reader page's link points to the head's successor at swap time, without the HEAD
      // flag (the flag went on the old reader page's link): the writer just moves out.
      next = this.headId;
      this.coverage.leaveReaderPage++;
    } else {
      const nextPos = (this.ring.indexOf(this.tail) + 1) % this.n;
      if (nextPos === this.headPos) {
        if (!this.overwrite) {
          this.dropped++;
          this.coverage.dropNewest++;
          return false;
        }
        // §3.6: the push owner accounts the whole head page as lost.
        const head = this.page(this.headId);
        if (!head.entered) modelBroken(`pushing page ${head.id}, which the writer never re-entered`);
        this.overrun += head.events.length;
        this.entriesBytes -= head.length;
        this.pagesLost++;
        this.headPos = (this.headPos + 1) % this.n;
        this.coverage.pushHead++;
      }
      next = this.ringAt(nextPos);
    }
    const page = this.page(next);
    page.length = 0;
    page.flags = 0;
    page.stored = 0;
    page.realEnd = 0;
    page.events = [];
    page.entered = true;
    this.tail = next;
    this.pagesTouched++;
    return true;
  }

  /** Kernel `rb_per_cpu_empty`, the test GET_READER starts with (page-based). */
  perCpuEmpty(): boolean {
    const reader = this.page(this.reader);
    if (this.readerRead !== reader.length) return false;
    if (this.tail === this.reader) return true;
    if (this.tail !== this.headId) return false;
    return this.page(this.tail).length === 0;
  }

  /** §5.5 `TRACE_MMAP_IOCTL_GET_READER`, steps 4–10. */
  getReader(): GetReaderOutcome {
    const outcome: GetReaderOutcome = { swapped: false, handedOut: [], lost: 0 };
    for (;;) {
      const empty = this.perCpuEmpty();
      if (empty !== (this.unread === 0)) {
        modelBroken(`page-based emptiness ${empty} disagrees with the counters (unread ${this.unread})`);
      }
      if (empty) break;
      const reader = this.page(this.reader);
      if (this.readerRead < reader.length) {
        // Step 5: everything left on the reader page is handed out and counted as read.
        outcome.handedOut = reader.events.slice(this.readerReadEntries);
        if (!outcome.swapped) {
          if (outcome.handedOut.length === 0) this.coverage.handOutPaddingOnly++;
          else this.coverage.handOutSamePage++;
        }
        this.read += reader.events.length - this.readerReadEntries;
        this.readBytes += reader.length - this.readerRead;
        this.readerRead = reader.length;
        this.readerReadEntries = reader.events.length;
        break;
      }
      if (outcome.swapped) modelBroken('a second swap in one GET_READER');
      // Step 6: the writer is on the reader page: nothing more to swap in.
      if (this.tail === this.reader) break;
      outcome.lost = this.swap();
      outcome.swapped = true;
    }
    return outcome;
  }

  /** §4.2 reader swap followed by §5.5 step 8 (missed-events marking). Returns the loss marked. */
  swap(): number {
    const old = this.page(this.reader);
    const head = this.page(this.headId);
    if (!head.entered) modelBroken(`swapping in page ${head.id}, which the writer never re-entered`);
    if (head.length === 0) modelBroken(`swapping in the empty page ${head.id}`);
    // The old reader page's bpage counters restart; its sub-buffer keeps its bytes until the
    // writer enters it.
    old.events = [];
    old.realEnd = 0;
    old.entered = false;
    this.pagesAnchor = this.ringAt(this.headPos - 1);
    this.ring[this.headPos] = old.id;
    this.headPos = (this.headPos + 1) % this.n;
    this.reader = head.id;
    this.readerRead = 0;
    this.readerReadEntries = 0;
    this.pagesRead++;
    this.coverage.swap++;
    if (this.overrun !== this.lastOverrun) {
      this.lostEvents = this.overrun - this.lastOverrun;
      this.lastOverrun = this.overrun;
    }
    const lost = this.lostEvents;
    if (lost !== 0) {
      if (this.tail !== head.id) {
        if (head.realEnd !== 0) {
          head.length = head.realEnd;
          this.coverage.markRealEnd++;
        }
        head.flags = MISSED_EVENTS;
        if (this.dataSize - head.length >= MISSED_COUNT_LENGTH) {
          head.flags |= MISSED_STORED;
          head.stored = lost;
          this.coverage.markStored++;
        } else {
          this.coverage.markUnknown++;
        }
      } else {
        // The writer is on the new reader page: the flags cannot be set (kernel: a log line).
        this.lostUnreported += lost;
        this.coverage.lostUnflaggable++;
      }
    }
    this.lostEvents = 0;
    return lost;
  }

  /** §5.7 reset: every page empty, the reader page keeps its id, every counter 0. */
  reset(): void {
    if (this.pagesRead > 0 || this.reader !== 0) this.coverage.resetAfterSwap++;
    if (this.resetRule === 'kernel-pages') this.headPos = this.ring.indexOf(this.pagesAnchor);
    for (const page of this.pages) {
      page.length = 0;
      page.flags = 0;
      page.stored = 0;
      page.realEnd = 0;
      page.events = [];
      page.entered = true;
    }
    this.tail = this.headId;
    this.readerRead = 0;
    this.readerReadEntries = 0;
    this.entries = 0;
    this.overrun = 0;
    this.dropped = 0;
    this.entriesBytes = 0;
    this.read = 0;
    this.readBytes = 0;
    this.lostEvents = 0;
    this.lastOverrun = 0;
    this.lostUnreported = 0;
    this.pagesTouched = 0;
    this.pagesLost = 0;
    this.pagesRead = 0;
  }
}

// ------------------------------------------------------------------------------------------------
// Seeded randomness
// ------------------------------------------------------------------------------------------------

/** mulberry32: a tiny, fast 32-bit PRNG; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function intIn(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] ?? items[0]!;
}

/** Payload bytes of write `seq`: the seq as u32 LE first when there is room, then a pattern. */
function payloadBytes(seq: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seq * 31 + i * 7 + 1) & 0xff;
  if (length >= 4) new DataView(out.buffer).setUint32(0, seq >>> 0, true);
  return out;
}

// ------------------------------------------------------------------------------------------------
// The harness: one TraceBuffer and one model, driven op by op
// ------------------------------------------------------------------------------------------------

interface Geometry {
  readonly subbufSize: number;
  readonly nrSubbufs: number;
  readonly overwrite: boolean;
}

function describeGeometry(g: Geometry): string {
  return `${g.overwrite ? 'overwrite' : 'producer/consumer'} subbufSize=${g.subbufSize} nrSubbufs=${g.nrSubbufs}`;
}

function same(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`${what}: tracebuf ${String(actual)}, model ${String(expected)}`);
}

class Harness {
  readonly model: AccountingModel;
  readonly tb: TraceBuffer;
  readonly mapping: Mapping;
  readonly producer: Producer;
  readonly maxPayload: number;
  readonly ops: string[] = [];

  readonly #reader = new SubbufReader();
  readonly #view: DataView;
  #seq = 0;
  #prevId = 0;
  #prevRead = 0;
  #lastTs = -1;

  // Per reset epoch, for the `read + lost == written` invariant.
  attempts = 0;
  written = 0;
  decoded = 0;
  storedLost = 0;
  unknownLost = 0;
  unknownFlags = 0;

  constructor(g: Geometry, resetRule: ResetRule) {
    this.model = new AccountingModel(g.subbufSize, g.nrSubbufs, g.overwrite, resetRule);
    this.tb = TraceBuffer.create({ cpus: 1, subbufSize: g.subbufSize, nrSubbufs: g.nrSubbufs, overwrite: g.overwrite, clock: 'counter' });
    this.mapping = this.tb.map(0);
    this.producer = this.tb.producer(0);
    this.maxPayload = g.subbufSize - HEADER_LENGTH - 8;
    this.#view = new DataView(this.mapping.bytes.buffer, this.mapping.bytes.byteOffset, this.mapping.bytes.byteLength);
    const meta = this.mapping.meta;
    same(meta.reader.id, 0, 'meta reader.id at map');
    same(meta.reader.read, 0, 'meta reader.read at map');
    this.compareStats('map');
  }

  write(payload: number): void {
    this.ops.push(`write(${payload})`);
    const seq = ++this.#seq;
    const ok = this.producer.write(payloadBytes(seq, payload));
    const expected = this.model.write(seq, payload);
    same(ok, expected, `write(${payload}) return value`);
    this.attempts++;
    if (ok) this.written++;
    this.compareStats(`write(${payload})`);
  }

  getReader(): GetReaderOutcome {
    this.ops.push('getReader');
    same(this.mapping.ioctl(TRACE_MMAP_IOCTL_GET_READER), 0, 'GET_READER return value');
    const outcome = this.model.getReader();
    const m = this.model;
    const meta = this.mapping.meta;
    same(meta.reader.id, m.reader, 'meta reader.id');
    same(meta.reader.read, m.readerRead, 'meta reader.read');
    same(meta.reader.lostEvents, 0, 'meta reader.lost_events');
    same(meta.entries, m.entries, 'meta entries');
    same(meta.overrun, m.overrun, 'meta overrun');
    same(meta.read, m.read, 'meta read');
    same(meta.reader.id !== this.#prevId, outcome.swapped, 'GET_READER swapped a sub-buffer');

    // The reader sub-buffer's commit word (low and high halves) and stored count.
    const page = m.page(m.reader);
    const base = this.mapping.subbufOffset(meta.reader.id);
    const low = this.#view.getUint32(base + COMMIT_OFFSET, true);
    const high = this.#view.getUint32(base + COMMIT_OFFSET + 4, true);
    same(low & LENGTH_MASK, page.length, `commit length of sub-buffer ${page.id}`);
    same((low & ~LENGTH_MASK) >>> 0, page.flags >>> 0, `commit flags of sub-buffer ${page.id}`);
    // §1.2: the kernel's signed add of bit 31 leaves the upper half all ones on x86-64.
    same(high, (page.flags & MISSED_EVENTS) !== 0 ? 0xffff_ffff : 0, `commit upper half of sub-buffer ${page.id}`);
    if ((page.flags & MISSED_STORED) !== 0) {
      const stored = Number(this.#view.getBigUint64(base + HEADER_LENGTH + page.length, true));
      same(stored, page.stored, `stored lost count of sub-buffer ${page.id}`);
      if (outcome.swapped) this.storedLost += stored;
    } else if ((page.flags & MISSED_EVENTS) !== 0 && outcome.swapped) {
      this.unknownFlags++;
      this.unknownLost += outcome.lost;
    }

    // Decode exactly what this call handed out.
    const from = outcome.swapped ? 0 : this.#prevRead;
    const r = this.#reader.load(this.mapping.bytes, base, from, meta.reader.read);
    let i = 0;
    while (r.next()) {
      const want = outcome.handedOut[i];
      if (want === undefined) throw new Error(`sub-buffer ${page.id} hands out more than the model's ${outcome.handedOut.length} events`);
      same(r.eventLength, want.size, `event ${i} (seq ${want.seq}) length`);
      same(r.payloadLength, want.size - (want.payload > SHORT_PAYLOAD_MAX ? 8 : 4), `event ${i} (seq ${want.seq}) payload capacity`);
      const expected = payloadBytes(want.seq, want.payload);
      for (let b = 0; b < want.payload; b++) {
        if (r.bytes[r.payloadOffset + b] !== expected[b]) throw new Error(`event seq ${want.seq}: payload byte ${b} differs`);
      }
      if (!(r.timestamp > this.#lastTs)) throw new Error(`event seq ${want.seq}: timestamp ${r.timestamp} not after ${this.#lastTs}`);
      this.#lastTs = r.timestamp;
      i++;
    }
    same(r.corrupt, false, `sub-buffer ${page.id} decodes without corruption`);
    same(i, outcome.handedOut.length, `events handed out from sub-buffer ${page.id}`);
    this.decoded += i;
    this.#prevId = meta.reader.id;
    this.#prevRead = meta.reader.read;
    this.compareStats('getReader');
    return outcome;
  }

  /** GET_READER until nothing is unread, then checks `read + lost == written` for this epoch. */
  drain(): void {
    this.ops.push('drain');
    const m = this.model;
    for (let round = 0; m.unread !== 0; round++) {
      if (round > m.n + 2) throw new Error(`drain did not finish after ${round} GET_READER calls`);
      this.getReader();
    }
    // A GET_READER on a drained buffer changes nothing.
    const before = this.mapping.meta;
    const outcome = this.getReader();
    same(outcome.handedOut.length, 0, 'GET_READER on a drained buffer hands out nothing');
    same(this.mapping.meta.reader.read, before.reader.read, 'GET_READER on a drained buffer keeps reader.read');
    this.checkDrainedInvariant();
  }

  checkDrainedInvariant(): void {
    const s = this.tb.stats(0);
    same(s.entries, 0, 'drained: stats entries');
    same(this.decoded, s.readEvents, 'drained: decoded events == read');
    if (this.model.overwrite) {
      // Every loss is either a stored count, a flag without a count, or unflaggable.
      same(this.storedLost + this.unknownLost + s.lostUnreported, s.overrun, 'drained: flagged + unflaggable losses == overrun');
      same(this.decoded + this.storedLost + this.unknownLost + s.lostUnreported, this.written, 'drained: read + lost == written');
      same(s.droppedEvents, 0, 'drained: no dropped events in overwrite mode');
    } else {
      same(s.overrun, 0, 'drained: no overrun in producer/consumer mode');
      same(this.storedLost + this.unknownFlags, 0, 'drained: no missed-events flags in producer/consumer mode');
      same(this.decoded, this.written, 'drained: read == written');
      same(this.decoded + s.droppedEvents, this.attempts, 'drained: read + dropped == attempted writes');
    }
  }

  reset(): void {
    this.ops.push('reset');
    this.tb.reset(0);
    this.model.reset();
    const meta = this.mapping.meta;
    same(meta.reader.id, this.model.reader, 'meta reader.id after reset');
    same(meta.reader.read, 0, 'meta reader.read after reset');
    same(meta.entries, 0, 'meta entries after reset');
    same(meta.overrun, 0, 'meta overrun after reset');
    same(meta.read, 0, 'meta read after reset');
    same(this.#view.getUint32(this.mapping.subbufOffset(meta.reader.id) + COMMIT_OFFSET, true), 0, 'reader commit word after reset');
    this.#prevRead = 0;
    this.attempts = 0;
    this.written = 0;
    this.decoded = 0;
    this.storedLost = 0;
    this.unknownLost = 0;
    this.unknownFlags = 0;
    this.compareStats('reset');
  }

  compareStats(after: string): void {
    const s = this.tb.stats(0);
    const m = this.model;
    same(s.entries, m.unread, `stats entries after ${after}`);
    same(s.overrun, m.overrun, `stats overrun after ${after}`);
    same(s.droppedEvents, m.dropped, `stats droppedEvents after ${after}`);
    same(s.readEvents, m.read, `stats readEvents after ${after}`);
    same(s.bytes, m.entriesBytes - m.readBytes, `stats bytes after ${after}`);
    same(s.committed, m.entries, `stats committed after ${after}`);
    same(s.commitOverrun, 0, `stats commitOverrun after ${after}`);
    same(s.lostUnreported, m.lostUnreported, `stats lostUnreported after ${after}`);
    same(s.pagesTouched, m.pagesTouched, `stats pagesTouched after ${after}`);
    same(s.pagesLost, m.pagesLost, `stats pagesLost after ${after}`);
    same(s.pagesRead, m.pagesRead, `stats pagesRead after ${after}`);
  }

  close(): void {
    this.producer.release();
    this.mapping.unmap();
  }
}

// ------------------------------------------------------------------------------------------------
// Random sequences
// ------------------------------------------------------------------------------------------------

const GEOMETRIES: readonly Geometry[] = [4096, 8192].flatMap((subbufSize) =>
  [3, 4, 8].flatMap((nrSubbufs) => [true, false].map((overwrite) => ({ subbufSize, nrSubbufs, overwrite }))),
);

/** The seed picks the geometry, so a replayed seed runs exactly the failing configuration. */
function geometryOf(seed: number): Geometry {
  return GEOMETRIES[seed % GEOMETRIES.length]!;
}

type LengthClass = 'tiny' | 'short' | 'long' | 'nearMax';
const REGIMES: readonly (readonly [LengthClass, number][])[] = [
  [['tiny', 0.3], ['short', 0.3], ['long', 0.3], ['nearMax', 0.1]],
  [['tiny', 0.9], ['short', 0.1]],
  [['short', 1]],
  [['long', 0.5], ['nearMax', 0.5]],
  [['tiny', 0.25], ['short', 0.25], ['long', 0.25], ['nearMax', 0.25]],
];

function payloadLength(rng: () => number, regime: readonly (readonly [LengthClass, number])[], maxPayload: number): number {
  let r = rng();
  let cls: LengthClass = 'tiny';
  for (const [c, w] of regime) {
    cls = c;
    if ((r -= w) < 0) break;
  }
  switch (cls) {
    case 'tiny':
      return intIn(rng, 0, 8);
    case 'short':
      return intIn(rng, 12, 112);
    case 'long':
      return intIn(rng, 113, 300);
    case 'nearMax':
      return maxPayload - intIn(rng, 0, 40);
  }
}

const totalCoverage = emptyCoverage();

/** Runs the whole sequence of `seed`; throws with the seed, geometry and recent ops on failure. */
function runSeed(seed: number): void {
  const g = geometryOf(seed);
  const rng = mulberry32(seed);
  const h = new Harness(g, 'kernel-pages');
  try {
    const regime = pick(rng, REGIMES);
    const pGet = pick(rng, [0.01, 0.04, 0.15, 0.4]);
    const pReset = pick(rng, [0, 0.002, 0.01]);
    const pDrain = 0.01;
    const steps = intIn(rng, 2000, 5000);
    for (let step = 0; step < steps; step++) {
      const r = rng();
      if (r < pReset) h.reset();
      else if (r < pReset + pDrain) h.drain();
      else if (r < pReset + pDrain + pGet) h.getReader();
      else h.write(payloadLength(rng, regime, h.maxPayload));
    }
    h.drain();
  } catch (err) {
    const tail = h.ops.slice(-40).join(' ');
    throw new Error(
      `seed=${seed} (${describeGeometry(g)}), op #${h.ops.length}: ${(err as Error).message}\n` +
        `last ops: ${tail}\n` +
        `replay: TRACEBUF_SEED=${seed} npx vitest run packages/core/test/model-accounting.test.ts`,
      { cause: err },
    );
  } finally {
    h.close();
  }
  for (const key of Object.keys(totalCoverage) as (keyof Coverage)[]) totalCoverage[key] += h.model.coverage[key];
}

const envSeed = process.env['TRACEBUF_SEED'];
const replaySeed = envSeed === undefined || envSeed === '' ? undefined : Number(envSeed);
if (replaySeed !== undefined && !Number.isSafeInteger(replaySeed)) throw new Error(`TRACEBUF_SEED must be an integer: ${envSeed}`);
/** Five seeds per geometry by default. */
const SEEDS: readonly number[] = replaySeed !== undefined ? [replaySeed] : Array.from({ length: GEOMETRIES.length * 5 }, (_, i) => 0x5eed0 + i);

describe('ring-buffer accounting matches an independent model of the kernel rules', () => {
  for (const [index, g] of GEOMETRIES.entries()) {
    const seeds = SEEDS.filter((s) => GEOMETRIES.indexOf(geometryOf(s)) === index);
    it.skipIf(seeds.length === 0)(describeGeometry(g), () => {
      for (const seed of seeds) runSeed(seed);
    });
  }

  // Runs after the sequences above (tests of a file run in order): the default seeds must have
  // driven every rule of the model at least once, or the comparison above proves little.
  //
  // Not `lostUnflaggable`: with one writer that never nests, a loss (a head push) leaves the tail
  // right behind the head, and until the next swap the writer can only push again, so the first
  // swap after a loss never takes the writer's page. The rule is modelled for completeness.
  it.skipIf(replaySeed !== undefined)('the default seeds exercise every accounting rule', () => {
    for (const [rule, count] of Object.entries(totalCoverage)) {
      if (rule !== 'lostUnflaggable') expect(count, rule).toBeGreaterThan(0);
    }
  });
});

describe('reset restarts the ring where the kernel does', () => {
  /**
   * After a swap the kernel's `rb_reset_cpu` restarts head and tail on `cpu_buffer->pages`,
   * which `rb_get_reader_page` left on the swapped head's predecessor; tracebuf restarts on the
   * current head. Fresh ring 1 → 2 → 3: the swap of 1 leaves `pages` on 3, so after the reset
   * the next GET_READER hands out id 3 in the kernel, id 2 in tracebuf. Known divergence,
   * reported; flip to `it` when core follows the kernel.
   */
  it('the first sub-buffer after a reset is the one the kernel would hand out', () => {
    const h = new Harness({ subbufSize: 4096, nrSubbufs: 4, overwrite: true }, 'kernel-pages');
    try {
      h.write(8);
      h.getReader();
      h.reset();
      h.write(8);
      h.getReader();
    } finally {
      h.close();
    }
  });
});

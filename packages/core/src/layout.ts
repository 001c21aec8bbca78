/**
 * Every shared-memory layout of tracebuf, declared once.
 *
 * Each region is an ordered table of fields; offsets are derived from the table, never written
 * by hand, and the hot code imports the derived constants. {@link describeLayout} prints the
 * tables (as the kernel's `events/header_page` file does) and is snapshot-tested, so this file
 * and the documentation cannot drift apart.
 *
 * Units are in the names: `*_OFFSET` is a byte offset, `*_INDEX` an `Int32Array` index,
 * `*_LENGTH` a byte length, `*_COUNT` a number of things.
 *
 * @packageDocumentation
 */

/** One field of a shared region. */
export interface LayoutField {
  /** Field name, as the kernel spells it where the kernel has one. */
  readonly name: string;
  /** Size in bytes. */
  readonly length: number;
  /** Alignment in bytes the field must start on (the offset is rounded up to it). */
  readonly align?: number;
  /** One sentence: what the field holds. */
  readonly doc: string;
}

/** A laid-out region: the fields with their computed byte offsets. */
export interface Layout {
  /** Name printed by {@link describeLayout}. */
  readonly title: string;
  /** Fields in order, each with its byte offset. */
  readonly fields: readonly (LayoutField & { readonly offset: number })[];
  /** Total length in bytes (end of the last field, rounded to `align`). */
  readonly length: number;
  /** Byte offset of the named field; throws on an unknown name (layout bugs fail at load). */
  offsetOf(name: string): number;
}

/** Lays out `fields` in order, each at the next offset that satisfies its alignment. */
export function defineLayout(title: string, fields: readonly LayoutField[], align = 1): Layout {
  let offset = 0;
  const placed = fields.map((field) => {
    const a = field.align ?? 1;
    offset = Math.ceil(offset / a) * a;
    const at = { ...field, offset };
    offset += field.length;
    return at;
  });
  const length = Math.ceil(offset / align) * align;
  const byName = new Map(placed.map((f) => [f.name, f.offset]));
  return {
    title,
    fields: placed,
    length,
    offsetOf(name: string): number {
      const found = byName.get(name);
      if (found === undefined) throw new Error(`layout ${title} has no field ${name}`);
      return found;
    },
  };
}

/** Size of one cache line; words written by the producer and by readers never share one. */
export const CACHE_LINE_LENGTH = 64;

// ------------------------------------------------------------------------------------------------
// Sub-buffer (kernel `struct buffer_data_page`, 64-bit layout)
// ------------------------------------------------------------------------------------------------

/**
 * Sub-buffer header, byte-compatible with the kernel on a 64-bit little-endian machine.
 *
 * ```
 *  0               8               16                                         subbuf_size
 *  +---------------+---------------+------------------------------------------+
 *  | time_stamp    | commit        | data[]: events, 4-byte aligned           |
 *  | u64           | u64 (low 32   |                                          |
 *  |               | bits used)    |                                          |
 *  +---------------+---------------+------------------------------------------+
 * ```
 */
export const SubbufHeaderLayout = defineLayout('sub-buffer header (struct buffer_data_page)', [
  { name: 'time_stamp', length: 8, doc: 'u64 full timestamp of the first event reserved on this sub-buffer' },
  {
    name: 'commit',
    length: 8,
    doc: 'committed bytes of the data area in bits 0..29 of the low 32 bits; bit 31 missed events, bit 30 lost count stored after the data',
  },
  { name: 'data', length: 0, doc: 'the event stream, starting here, up to subbuf_size' },
]);

/** Byte offset of the u64 page timestamp in a sub-buffer. */
export const SUBBUF_TIME_STAMP_OFFSET = SubbufHeaderLayout.offsetOf('time_stamp');
/** Byte offset of the commit word in a sub-buffer. */
export const SUBBUF_COMMIT_OFFSET = SubbufHeaderLayout.offsetOf('commit');
/** Byte offset of the data area in a sub-buffer (16). */
export const SUBBUF_DATA_OFFSET = SubbufHeaderLayout.offsetOf('data');
/** Length of the sub-buffer header (16). */
export const SUBBUF_HEADER_LENGTH = SUBBUF_DATA_OFFSET;

/** Commit flag: events were lost between the previous sub-buffer read and this one. */
export const RB_MISSED_EVENTS = 0x8000_0000;
/** Commit flag: the number of lost events is stored as a u64 right after the data. */
export const RB_MISSED_STORED = 0x4000_0000;
/** Mask of the committed length in the low 32 bits of the commit word. */
export const COMMIT_LENGTH_MASK = 0x3fff_ffff;
/** Length of the lost-events count stored after the data (`unsigned long` on 64-bit). */
export const MISSED_COUNT_LENGTH = 8;

/** Smallest sub-buffer size (one 4 KiB page, `order` 0). */
export const MIN_SUBBUF_SIZE = 4096;
/** Largest sub-buffer size: the ring-buffer core's 20-bit write index limit. */
export const MAX_SUBBUF_SIZE = 1 << 20;
/** Smallest number of sub-buffers per CPU buffer, the reader one included (2 ring pages + reader). */
export const MIN_NR_SUBBUFS = 3;

// ------------------------------------------------------------------------------------------------
// Events (kernel `struct ring_buffer_event`)
// ------------------------------------------------------------------------------------------------

/**
 * Event header word and the following `array[]`.
 *
 * ```
 *  31                                   5 4       0
 *  +--------------------------------------+---------+
 *  |            time_delta (27)           | type_len|   header word
 *  +--------------------------------------+---------+
 *  |  array[0]: length (type_len 0), extend, stamp   |   optional
 *  +------------------------------------------------+
 *  |  payload ...                                   |
 * ```
 */
export const EventHeaderLayout = defineLayout('event header (struct ring_buffer_event)', [
  { name: 'type_len:5 time_delta:27', length: 4, doc: 'low 5 bits type_len, high 27 bits time_delta' },
  { name: 'array[0]', length: 4, doc: 'long-form length (itself + payload), or the high bits of an extend/stamp' },
]);

/** Byte offset of `array[0]` in an event. */
export const EVENT_ARRAY0_OFFSET = EventHeaderLayout.offsetOf('array[0]');
/** Length of the event header word. */
export const EVENT_HEADER_LENGTH = EVENT_ARRAY0_OFFSET;
/** Bits of `time_delta` in the header word. */
export const TIME_DELTA_BITS = 27;
/** Largest delta the header word holds; larger ones need a TIME_EXTEND. */
export const TIME_DELTA_MAX = 2 ** TIME_DELTA_BITS - 1;
/** Mask of `type_len` in the header word. */
export const TYPE_LEN_MASK = 0x1f;
/** Largest `type_len` of a short-form data event (28: payload up to 112 bytes). */
export const TYPE_DATA_MAX = 28;
/** Largest payload of the short form: `4 * TYPE_DATA_MAX`. */
export const SHORT_PAYLOAD_MAX_LENGTH = 4 * TYPE_DATA_MAX;
/** Event alignment ("RB_ALIGNMENT" on x86-64). */
export const EVENT_ALIGNMENT = 4;
/** Length of a TIME_EXTEND or TIME_STAMP event. */
export const TIME_EVENT_LENGTH = 8;
/** Smallest padding that can be a discarded event (header + `array[0]`). */
export const MIN_DISCARD_LENGTH = 8;
/** Bytes of a data event beyond its payload in the long form (header word + length word). */
export const LONG_EVENT_OVERHEAD_LENGTH = 8;

/** `type_len` values that are not data (kernel `enum ring_buffer_type`). */
export const EventType = {
  /** Padding: null filler after the commit when `time_delta` is 0, else a discarded event. */
  PADDING: 29,
  /** Extends the delta of the next event: `(array[0] << 27) + time_delta`. */
  TIME_EXTEND: 30,
  /** Absolute timestamp, low 59 bits: `(array[0] << 27) | time_delta`. */
  TIME_STAMP: 31,
} as const;

// ------------------------------------------------------------------------------------------------
// The mmap meta page (uapi `struct trace_buffer_meta`)
// ------------------------------------------------------------------------------------------------

/** The 80-byte `struct trace_buffer_meta` at offset 0 of every CPU buffer mapping. */
export const MetaLayout = defineLayout('meta page (struct trace_buffer_meta)', [
  { name: 'meta_page_size', length: 4, doc: 'bytes before sub-buffer 0 in the mapping: one sub-buffer size' },
  { name: 'meta_struct_len', length: 4, doc: 'length of this struct (80)' },
  { name: 'subbuf_size', length: 4, doc: 'size of one sub-buffer including its 16-byte header' },
  { name: 'nr_subbufs', length: 4, doc: 'sub-buffers in the mapping: the ring plus the reader sub-buffer' },
  { name: 'reader.lost_events', length: 8, doc: 'lost events not yet reported in a sub-buffer (0 after GET_READER)' },
  { name: 'reader.id', length: 4, doc: 'id of the sub-buffer that is the reader sub-buffer' },
  { name: 'reader.read', length: 4, doc: 'bytes of the reader sub-buffer data already handed out' },
  { name: 'flags', length: 8, doc: 'reserved, 0' },
  { name: 'entries', length: 8, doc: 'events committed since the last reset' },
  { name: 'overrun', length: 8, doc: 'events lost to overwrite since the last reset' },
  { name: 'read', length: 8, doc: 'data events consumed since the last reset' },
  { name: 'Reserved1', length: 8, doc: 'reserved, 0' },
  { name: 'Reserved2', length: 8, doc: 'reserved, 0' },
]);

/** Byte offset of `meta_page_size`. */
export const META_PAGE_SIZE_OFFSET = MetaLayout.offsetOf('meta_page_size');
/** Byte offset of `meta_struct_len`. */
export const META_STRUCT_LEN_OFFSET = MetaLayout.offsetOf('meta_struct_len');
/** Byte offset of `subbuf_size`. */
export const META_SUBBUF_SIZE_OFFSET = MetaLayout.offsetOf('subbuf_size');
/** Byte offset of `nr_subbufs`. */
export const META_NR_SUBBUFS_OFFSET = MetaLayout.offsetOf('nr_subbufs');
/** Byte offset of `reader.lost_events`. */
export const META_READER_LOST_EVENTS_OFFSET = MetaLayout.offsetOf('reader.lost_events');
/** Byte offset of `reader.id`. */
export const META_READER_ID_OFFSET = MetaLayout.offsetOf('reader.id');
/** Byte offset of `reader.read`. */
export const META_READER_READ_OFFSET = MetaLayout.offsetOf('reader.read');
/** Byte offset of `flags`. */
export const META_FLAGS_OFFSET = MetaLayout.offsetOf('flags');
/** Byte offset of `entries`. */
export const META_ENTRIES_OFFSET = MetaLayout.offsetOf('entries');
/** Byte offset of `overrun`. */
export const META_OVERRUN_OFFSET = MetaLayout.offsetOf('overrun');
/** Byte offset of `read`. */
export const META_READ_OFFSET = MetaLayout.offsetOf('read');
/** `meta_struct_len`: the length of the struct (80). */
export const META_STRUCT_LENGTH = MetaLayout.length;

/** `_IO('R', 0x20)`: swap in the next reader sub-buffer (Linux 6.10 `trace_mmap.h`). */
export const TRACE_MMAP_IOCTL_GET_READER = 0x5220;
/** `ioctl(fd, 0)`: wake every waiter of this CPU buffer. */
export const TRACE_MMAP_IOCTL_WAKE = 0;

// ------------------------------------------------------------------------------------------------
// Private per-CPU control block (never part of what a consumer is promised)
// ------------------------------------------------------------------------------------------------

const w32 = (name: string, doc: string): LayoutField => ({ name, length: 4, align: 4, doc });
const w64 = (name: string, doc: string): LayoutField => ({ name, length: 8, align: 8, doc });
const line = (name: string): LayoutField => ({
  name,
  length: 0,
  align: CACHE_LINE_LENGTH,
  doc: 'cache-line boundary',
});

/**
 * Per-CPU control block: the kernel's `ring_buffer_per_cpu` fields that are shared between the
 * producer and readers. 64-bit counters are a little-endian (low, high) pair of 32-bit words
 * written by one side only (the low word first). The producer's lines and the reader line are
 * separate cache lines, and the one word the producer stores per event (`wseq`) has a line of its
 * own, apart from the words that change only when the tail moves.
 */
export const CpuControlLayout = defineLayout(
  'per-CPU control block (private)',
  [
    line('publish line'),
    w32('wseq', 'producer publish sequence: odd while the producer publishes or moves the tail'),
    w32('pending_drops', 'drops of a still-full ring not yet folded into dropped_events (Atomics.add, no publish sequence)'),
    line('crossing line'),
    w32('cross_seq', 'tail-move sequence: odd while the producer moves the tail (the words that change only then)'),
    w32('tail_page', 'id of the tail sub-buffer (being written; also the commit page)'),
    w32('base_page', 'the tail sub-buffer the two bases below were last brought up to'),
    w32('commit_overrun', 'events dropped because the writer wrapped onto uncommitted data (0: no nesting in JS)'),
    w64('entries_base', 'events committed on sub-buffers before the tail one (entries = base + tail count)'),
    w64('entries_bytes_base', 'bytes before the tail sub-buffer, minus overwritten (entries_bytes = base + tail commit)'),
    w64('overrun', 'events lost to overwrite since the reset'),
    w64('dropped_events', 'events refused in producer/consumer mode because the ring was full'),
    w32('pages_touched', 'tail sub-buffer advances'),
    w32('pages_lost', 'sub-buffers overwritten'),
    w64('staged_entries_base', 'entries_base for the sub-buffer named by base_page, staged before base_page is set'),
    w64('staged_bytes_base', 'entries_bytes_base likewise'),
    w64('staged_overrun', 'overrun after the head push in progress, staged before the HEAD → UPDATE swap'),
    w64('staged_push_bytes', 'entries_bytes_base after the head push in progress, staged likewise'),
    w32('staged_pages_lost', 'pages_lost after the head push in progress, staged likewise'),
    w32('staged_pages_touched', 'pages_touched for the sub-buffer named by base_page, staged before base_page is set'),
    line('reader line'),
    w32('reader_lock', 'reader lock: 0 free, 1 held (serialises GET_READER, reset, map bookkeeping)'),
    w32('reader_page', 'id of the reader sub-buffer (outside the ring)'),
    w32('head_page', 'cached id of the head sub-buffer (the HEAD flag on the ring link is authoritative)'),
    w32('reader_read', 'bytes of the reader sub-buffer data already consumed'),
    w32('reader_read_entries', 'data events of the reader sub-buffer already consumed'),
    w32('pages_read', 'reader sub-buffer swaps'),
    w64('read', 'data events consumed since the reset'),
    w64('read_bytes', 'bytes the reader advanced over since the reset'),
    w64('lost_events', 'overrun not yet reported in a sub-buffer'),
    w64('last_overrun', 'overrun at the last reader swap'),
    w64('lost_unreported', 'losses the kernel cannot flag because the writer was on the new reader page'),
    w32('pages', "the kernel's cpu_buffer->pages: the ring sub-buffer a reset restarts head and tail on"),
    line('control line'),
    w32('ctrl', 'bit 0 recording off, bit 1 resetting, bit 2 any-data waiter, bit 3 watermark waiter, bits 4.. reset generation'),
    w32('mapped', 'number of live mappings of this CPU buffer'),
    w32('subbuf_size', 'bytes per sub-buffer of this bank, header included'),
    w32('nr_subbufs', 'sub-buffers of this bank, the reader one included'),
    w32('capacity', 'sub-buffers the per-page arrays of this control block have room for'),
    w32('bank_gen', 'bumped each time this bank is emptied for a new life (a snapshot of it is then stale)'),
    w32('wake_seq', 'wake-up sequence waiters block on with Atomics.wait'),
    w32('shortest_full', 'smallest watermark asked for by a pending watermark waiter (0: none recorded)'),
    w32('last_pages_touched', 'pages_touched at the last full-waiter check'),
    line('end of counters'),
  ],
  CACHE_LINE_LENGTH,
);

const cpuIndex = (name: string): number => CpuControlLayout.offsetOf(name) / 4;

/** Int32 index of the producer publish sequence (odd while publishing). */
export const WSEQ_INDEX = cpuIndex('wseq');
/** Int32 index of the tail-move sequence (odd while the producer moves the tail). */
export const CROSS_SEQ_INDEX = cpuIndex('cross_seq');
/** Int32 index of the tail sub-buffer id. */
export const TAIL_PAGE_INDEX = cpuIndex('tail_page');
/** Int32 index of the tail sub-buffer the entry bases were last brought up to. */
export const BASE_PAGE_INDEX = cpuIndex('base_page');
/** Int32 index of the commit-overrun counter. */
export const COMMIT_OVERRUN_INDEX = cpuIndex('commit_overrun');
/** Int32 index of the low word of `entries_base`. */
export const ENTRIES_BASE_INDEX = cpuIndex('entries_base');
/** Int32 index of the low word of `entries_bytes_base`. */
export const ENTRIES_BYTES_BASE_INDEX = cpuIndex('entries_bytes_base');
/** Int32 index of the low word of `overrun`. */
export const OVERRUN_INDEX = cpuIndex('overrun');
/** Int32 index of the low word of `dropped_events`. */
export const DROPPED_EVENTS_INDEX = cpuIndex('dropped_events');
/** Int32 index of `pages_touched`. */
export const PAGES_TOUCHED_INDEX = cpuIndex('pages_touched');
/** Int32 index of `pages_lost`. */
export const PAGES_LOST_INDEX = cpuIndex('pages_lost');
/** Int32 index of the staged `entries_base` (crash recovery of a tail move). */
export const STAGED_ENTRIES_BASE_INDEX = cpuIndex('staged_entries_base');
/** Int32 index of the staged `entries_bytes_base` (crash recovery of a tail move). */
export const STAGED_BYTES_BASE_INDEX = cpuIndex('staged_bytes_base');
/** Int32 index of the staged `overrun` (crash recovery of a head push). */
export const STAGED_OVERRUN_INDEX = cpuIndex('staged_overrun');
/** Int32 index of the staged `entries_bytes_base` of a head push. */
export const STAGED_PUSH_BYTES_INDEX = cpuIndex('staged_push_bytes');
/** Int32 index of the staged `pages_lost` of a head push. */
export const STAGED_PAGES_LOST_INDEX = cpuIndex('staged_pages_lost');
/** Int32 index of the staged `pages_touched` (crash recovery of a tail move). */
export const STAGED_PAGES_TOUCHED_INDEX = cpuIndex('staged_pages_touched');
/** Int32 index of the drops not yet folded into `dropped_events`. */
export const PENDING_DROPS_INDEX = cpuIndex('pending_drops');
/** Int32 index of the reader lock. */
export const READER_LOCK_INDEX = cpuIndex('reader_lock');
/** Int32 index of the reader sub-buffer id. */
export const READER_PAGE_INDEX = cpuIndex('reader_page');
/** Int32 index of the cached head sub-buffer id. */
export const HEAD_PAGE_INDEX = cpuIndex('head_page');
/** Int32 index of the reader's consumed byte offset. */
export const READER_READ_INDEX = cpuIndex('reader_read');
/** Int32 index of the reader's consumed event count on the reader sub-buffer. */
export const READER_READ_ENTRIES_INDEX = cpuIndex('reader_read_entries');
/** Int32 index of `pages_read`. */
export const PAGES_READ_INDEX = cpuIndex('pages_read');
/** Int32 index of the low word of `read`. */
export const READ_INDEX = cpuIndex('read');
/** Int32 index of the low word of `read_bytes`. */
export const READ_BYTES_INDEX = cpuIndex('read_bytes');
/** Int32 index of the low word of `lost_events`. */
export const LOST_EVENTS_INDEX = cpuIndex('lost_events');
/** Int32 index of the low word of `last_overrun`. */
export const LAST_OVERRUN_INDEX = cpuIndex('last_overrun');
/** Int32 index of the low word of `lost_unreported`. */
export const LOST_UNREPORTED_INDEX = cpuIndex('lost_unreported');
/** Int32 index of the sub-buffer a reset restarts the ring on (kernel `cpu_buffer->pages`). */
export const PAGES_INDEX = cpuIndex('pages');
/** Int32 index of the control word (recording off, resetting, reset generation). */
export const CTRL_INDEX = cpuIndex('ctrl');
/** Int32 index of this bank's sub-buffer size. */
export const SUBBUF_SIZE_INDEX = cpuIndex('subbuf_size');
/** Int32 index of this bank's number of sub-buffers. */
export const NR_SUBBUFS_INDEX = cpuIndex('nr_subbufs');
/** Int32 index of the capacity (in sub-buffers) of the per-page arrays. */
export const CAPACITY_INDEX = cpuIndex('capacity');
/** Int32 index of the bank generation. */
export const BANK_GEN_INDEX = cpuIndex('bank_gen');
/** Int32 index of the mapping count. */
export const MAPPED_INDEX = cpuIndex('mapped');
/** Int32 index of the wake-up sequence. */
export const WAKE_SEQ_INDEX = cpuIndex('wake_seq');
/** `ctrl` bit: a waiter wants any data (woken by the next commit). */
export const WAIT_ANY = 4;
/** `ctrl` bit: a waiter wants the `buffer_percent` watermark (checked at sub-buffer crossings). */
export const WAIT_FULL = 8;
/** `ctrl` bits of pending waiters: the producer's one `Atomics.load` of `ctrl` per commit sees them. */
export const CTRL_WAITERS = WAIT_ANY | WAIT_FULL;
/** Int32 index of the smallest pending watermark. */
export const SHORTEST_FULL_INDEX = cpuIndex('shortest_full');
/** Int32 index of `pages_touched` at the last watermark check. */
export const LAST_PAGES_TOUCHED_INDEX = cpuIndex('last_pages_touched');
/** Length of the fixed part of the control block; the per-page arrays follow. */
export const CPU_CONTROL_LENGTH = CpuControlLayout.length;

/** `ctrl` bit: recording is off (`tracing_on` = 0). */
export const CTRL_RECORD_OFF = 1;
/** `ctrl` bit: a reset is in progress; producers refuse writes. */
export const CTRL_RESETTING = 2;
/** `ctrl`: the reset generation starts at this bit. */
export const CTRL_GEN_UNIT = 16;
/** `ctrl` bits of the reset generation. */
export const CTRL_GEN_MASK = ~(CTRL_GEN_UNIT - 1);

/**
 * Per-sub-buffer arrays that follow the control block, one Int32 per sub-buffer each, every
 * array starting on a cache line. `next` carries the ring link with the HEAD/UPDATE flag in its
 * two low bits: `(id << 2) | flag`.
 */
export const PageArrays = [
  { name: 'next', doc: 'ring link: (id of the next sub-buffer << 2) | PageFlag; CAS by producer and reader' },
  { name: 'prev', doc: 'id of the previous sub-buffer in the ring (reader side only)' },
  { name: 'entries', doc: 'data events committed on this sub-buffer' },
  { name: 'real_end', doc: 'end of the data before the end-of-sub-buffer padding (0 when none)' },
] as const;

/** Flags in the two low bits of a ring link (`next` array). */
export const PageFlag = {
  /** Plain link. */
  NORMAL: 0,
  /** The pointed-to sub-buffer is the head: the next one the reader takes. */
  HEAD: 1,
  /** A producer is moving the head off the pointed-to sub-buffer. */
  UPDATE: 2,
} as const;
/** Mask of the flag bits in a ring link. */
export const PAGE_FLAG_MASK = 3;
/** Shift of the sub-buffer id in a ring link. */
export const PAGE_LINK_SHIFT = 2;

/**
 * A ring link is one Int32, `(gen << genShift) | (id << 2) | flag`:
 *
 * ```
 *  31              genShift              2   1 0
 *  +-------------------+-----------------+-----+
 *  | generation        | sub-buffer id   |flag |
 *  +-------------------+-----------------+-----+
 * ```
 *
 * The id takes as many bits as the bank's capacity needs; the generation takes the rest and goes
 * up each time HEAD is set on the link. So a reader whose compare-and-swap on `prev → head|HEAD`
 * was delayed while the producer went round the ring finds a different value, not the same one
 * (the ABA case), unless HEAD was set on that very link 2^bits times meanwhile.
 */
export interface LinkFormat {
  /** Mask of the id after shifting the link right by {@link PAGE_LINK_SHIFT}. */
  readonly idMask: number;
  /** Shift of the generation. */
  readonly genShift: number;
}

/** The link format of a bank whose per-page arrays hold `capacity` sub-buffers. */
export function linkFormat(capacity: number): LinkFormat {
  const idBits = Math.max(1, Math.ceil(Math.log2(capacity + 1)));
  return { idMask: 2 ** idBits - 1, genShift: PAGE_LINK_SHIFT + idBits };
}

/** Builds a ring link. */
export function makeLink(f: LinkFormat, id: number, flag: number, gen: number): number {
  return ((gen << f.genShift) | (id << PAGE_LINK_SHIFT) | flag) | 0;
}

/** The sub-buffer id a ring link points to. */
export function linkId(f: LinkFormat, link: number): number {
  return (link >>> PAGE_LINK_SHIFT) & f.idMask;
}

/** The generation of a ring link. */
export function linkGen(f: LinkFormat, link: number): number {
  return link >>> f.genShift;
}

/** Int32 index of `array` for sub-buffer `id`, given the capacity (in sub-buffers) of the arrays. */
export function pageArrayIndex(array: 0 | 1 | 2 | 3, capacity: number, id: number): number {
  return CPU_CONTROL_LENGTH / 4 + array * pageArrayStride(capacity) + id;
}

/** Int32 words between the starts of two per-page arrays (rounded to a cache line). */
export function pageArrayStride(capacity: number): number {
  return Math.ceil((capacity * 4) / CACHE_LINE_LENGTH) * (CACHE_LINE_LENGTH / 4);
}

/** Which per-page array: `next`. */
export const NEXT_ARRAY = 0;
/** Which per-page array: `prev`. */
export const PREV_ARRAY = 1;
/** Which per-page array: `entries`. */
export const PAGE_ENTRIES_ARRAY = 2;
/** Which per-page array: `real_end`. */
export const REAL_END_ARRAY = 3;

/** Total bytes of a CPU control block whose per-page arrays hold `capacity` sub-buffers. */
export function cpuControlLength(capacity: number): number {
  return CPU_CONTROL_LENGTH + PageArrays.length * pageArrayStride(capacity) * 4;
}

// ------------------------------------------------------------------------------------------------
// Buffer-wide control block
// ------------------------------------------------------------------------------------------------

/** Buffer-wide words shared by every thread. */
export const GlobalControlLayout = defineLayout(
  'buffer control block (private)',
  [
    line('clock line'),
    w32('counter_lo', "low 32 bits of the 'counter' clock (Atomics.add)"),
    w32('counter_halves', "half-epochs (2^31) the 'counter' clock has crossed"),
    line('identity line'),
    w64('created_hr', 'process.hrtime of creation in ns (f64): the zero of the mono clock'),
    w32('next_token', 'last producer claim token handed out'),
    w32('magic', 'constant that marks a tracebuf control block'),
    w32('snapshot_armed', 'snapshot users armed (map() is EBUSY while non-zero)'),
    w32('admin_lock', 'serialises buffer-wide changes: snapshot, resize, sub-buffer size, map bookkeeping, slots coming online'),
    w32('online', 'cpu slots online (0..online−1 have memory); the next comes online when every one is claimed'),
    line('end'),
  ],
  CACHE_LINE_LENGTH,
);

/** Int32 index of the low word of the counter clock. */
export const COUNTER_LO_INDEX = GlobalControlLayout.offsetOf('counter_lo') / 4;
/** Int32 index of the counter clock's half-epoch count. */
export const COUNTER_HALVES_INDEX = GlobalControlLayout.offsetOf('counter_halves') / 4;
/** Float64 index of the creation time. */
export const CREATED_HR_F64_INDEX = GlobalControlLayout.offsetOf('created_hr') / 8;
/** Int32 index of the claim-token counter. */
export const NEXT_TOKEN_INDEX = GlobalControlLayout.offsetOf('next_token') / 4;
/** Int32 index of the magic word. */
export const MAGIC_INDEX = GlobalControlLayout.offsetOf('magic') / 4;
/** Int32 index of the armed-snapshot count. */
export const SNAPSHOT_ARMED_INDEX = GlobalControlLayout.offsetOf('snapshot_armed') / 4;
/** Int32 index of the buffer-wide admin lock. */
export const ADMIN_LOCK_INDEX = GlobalControlLayout.offsetOf('admin_lock') / 4;
/** Int32 index of the count of cpu slots online. */
export const ONLINE_INDEX = GlobalControlLayout.offsetOf('online') / 4;
/** Value of the magic word ("TBUF"). */
export const CONTROL_MAGIC = 0x46554254;
/** Length of the buffer-wide control block. */
export const GLOBAL_CONTROL_LENGTH = GlobalControlLayout.length;

/**
 * Per-CPU anchor, one cache line per cpu slot after the buffer control block: what never moves
 * when a CPU buffer is resized or swapped with its snapshot spare. Each slot has two banks (a
 * data SharedArrayBuffer in the mmap layout and its control block); one is live, the other is
 * the snapshot spare.
 */
export const AnchorLayout = defineLayout(
  'per-CPU anchor (private, after the buffer control block)',
  [
    w32('layout_gen', 'seqlock of the live bank and its geometry: odd while a snapshot swap or a resize changes them (views are rebuilt)'),
    w32('live_bank', 'which bank (0 or 1) producers write and mappings map'),
    w32('claim', 'producer claim token, 0 when the slot is free'),
    w32('spare_ready', '1 while the spare bank holds a fresh empty ring for the next snapshot'),
    line('end'),
  ],
  CACHE_LINE_LENGTH,
);

/** Int32 index (from the anchor's start) of the layout generation. */
export const LAYOUT_GEN_INDEX = AnchorLayout.offsetOf('layout_gen') / 4;
/** Int32 index (from the anchor's start) of the live bank. */
export const LIVE_BANK_INDEX = AnchorLayout.offsetOf('live_bank') / 4;
/** Int32 index (from the anchor's start) of the producer claim token. */
export const CLAIM_INDEX = AnchorLayout.offsetOf('claim') / 4;
/** Int32 index (from the anchor's start) of the spare-ready flag. */
export const SPARE_READY_INDEX = AnchorLayout.offsetOf('spare_ready') / 4;

/** Int32 index of the first word of cpu slot `cpu`'s anchor in the buffer control block. */
export function anchorIndex(cpu: number): number {
  return (GLOBAL_CONTROL_LENGTH + cpu * AnchorLayout.length) / 4;
}

/** Bytes of the buffer control block with the anchors of `cpus` slots. */
export function globalControlLength(cpus: number): number {
  return GLOBAL_CONTROL_LENGTH + cpus * AnchorLayout.length;
}

// ------------------------------------------------------------------------------------------------
// Clock page of the `local` clock
// ------------------------------------------------------------------------------------------------

/**
 * The `local` clock's page (a SharedArrayBuffer of its own, shared by every buffer created in one
 * thread): a ticker thread stores the coarse time in `tick_ns` once per tick; producers read it
 * with one plain load per event. Producers write `activity` once per tick, so it has a line of
 * its own, away from the word they load per event.
 */
export const ClockPageLayout = defineLayout(
  "'local' clock page (private, one per creating thread)",
  [
    line('tick line'),
    w64('tick_ns', "process.hrtime in ns of the last tick (f64); NaN while the ticker sleeps"),
    w64('last_tick_ns', 'the last tick stored before the ticker went to sleep (f64)'),
    w32('tick_length_ns', 'ns between ticks: consecutive tick_ns values differ by at least this'),
    line('ticker line'),
    w32('ticker_state', 'RUNNING 1, SLEEPING 2 (no producer saw a tick for a while; the next one wakes it)'),
    w32('activity', 'set by a producer that sees a new tick; the ticker clears it at each tick'),
    line('end'),
  ],
  CACHE_LINE_LENGTH,
);

/** Float64 index of the coarse time. */
export const TICK_F64_INDEX = ClockPageLayout.offsetOf('tick_ns') / 8;
/** Float64 index of the last tick stored before the ticker slept. */
export const LAST_TICK_F64_INDEX = ClockPageLayout.offsetOf('last_tick_ns') / 8;
/** Int32 index of the tick length. */
export const TICK_LENGTH_INDEX = ClockPageLayout.offsetOf('tick_length_ns') / 4;
/** Int32 index of the ticker's state. */
export const TICKER_STATE_INDEX = ClockPageLayout.offsetOf('ticker_state') / 4;
/** Int32 index of the activity flag. */
export const TICK_ACTIVITY_INDEX = ClockPageLayout.offsetOf('activity') / 4;
/** Values of `ticker_state`. */
export const TickerState = { RUNNING: 1, SLEEPING: 2 } as const;
/** Length of the clock page. */
export const CLOCK_PAGE_LENGTH = ClockPageLayout.length;

// ------------------------------------------------------------------------------------------------
// Typed events: the ftrace common header and the shared schema registry
// ------------------------------------------------------------------------------------------------

/**
 * The first bytes of every typed event's payload: the kernel's `struct trace_entry`, which every
 * ftrace event starts with. `common_type` is how a reader matches a record to its format.
 */
export const FtraceCommonLayout = defineLayout('typed event common header (struct trace_entry)', [
  { name: 'common_type', length: 2, align: 2, doc: "u16: the event's ID (its format's `ID:`)" },
  { name: 'common_flags', length: 1, doc: 'u8: irq/softirq flags in the kernel; 0 in tracebuf' },
  { name: 'common_preempt_count', length: 1, doc: 'u8: preemption depth in the kernel; 0 in tracebuf' },
  { name: 'common_pid', length: 4, align: 4, doc: "s32: the writing thread's Linux thread id (worker threadId where /proc is absent)" },
]);

/** Byte offset of `common_type` in a typed event's payload. */
export const COMMON_TYPE_OFFSET = FtraceCommonLayout.offsetOf('common_type');
/** Byte offset of `common_flags`. */
export const COMMON_FLAGS_OFFSET = FtraceCommonLayout.offsetOf('common_flags');
/** Byte offset of `common_preempt_count`. */
export const COMMON_PREEMPT_COUNT_OFFSET = FtraceCommonLayout.offsetOf('common_preempt_count');
/** Byte offset of `common_pid`. */
export const COMMON_PID_OFFSET = FtraceCommonLayout.offsetOf('common_pid');
/** Length of the common header: a typed event's own fields start here. */
export const FTRACE_COMMON_LENGTH = FtraceCommonLayout.length;

/**
 * The event registry (a SharedArrayBuffer of its own, one per buffer, in the handle): the
 * schemas `defineEvent` registered, so every thread of the buffer writes and decodes the same
 * IDs. Append-only: entries are written under `lock`, then `count` publishes them.
 */
export const EventRegistryLayout = defineLayout(
  'event registry (private, one per buffer)',
  [
    w32('lock', '0 free, 1 held by a thread appending a schema'),
    w32('count', 'entries published (event schemas and thread names); the n-th event schema has ID EVENT_ID_BASE + n'),
    w32('used', 'bytes of the entry area in use'),
    w32('capacity', 'bytes of the entry area'),
    { name: 'entries', length: 0, align: 4, doc: 'entries: u32 length, then that many bytes of UTF-8 JSON, padded to 4' },
  ],
  4,
);

/** Int32 index of the registry lock. */
export const REGISTRY_LOCK_INDEX = EventRegistryLayout.offsetOf('lock') / 4;
/** Int32 index of the published entry count. */
export const REGISTRY_COUNT_INDEX = EventRegistryLayout.offsetOf('count') / 4;
/** Int32 index of the bytes used in the entry area. */
export const REGISTRY_USED_INDEX = EventRegistryLayout.offsetOf('used') / 4;
/** Int32 index of the entry area's capacity. */
export const REGISTRY_CAPACITY_INDEX = EventRegistryLayout.offsetOf('capacity') / 4;
/** Byte offset of the first entry. */
export const REGISTRY_ENTRIES_OFFSET = EventRegistryLayout.offsetOf('entries');
/** The event ID of the first registered schema (clear of the kernel's own ftrace IDs). */
export const EVENT_ID_BASE = 1000;
/** Default length of a buffer's registry (header included). */
export const EVENT_REGISTRY_LENGTH = 64 * 1024;

/**
 * The string table (a SharedArrayBuffer of its own, one per buffer, in the handle): strings
 * producers refer to by ID, like the kernel's `printk_formats` (see strings.ts). Entries are
 * appended lock-free: `used` is bumped with `Atomics.add`, the entry's length word is stored last.
 */
export const StringTableLayout = defineLayout(
  'string table (private, one per buffer)',
  [
    w32('used', 'bytes of the entry area handed out (may run past the end once the table is full)'),
    w32('reserved', 'keeps the entries 8-aligned'),
    { name: 'entries', length: 0, align: 4, doc: 'entries: u32 (UTF-8 length + 1, 0 while being written), the bytes, padded to 4; an ID is an entry offset' },
  ],
  4,
);

/** Int32 index of the string table's `used`. */
export const STRING_TABLE_USED_INDEX = StringTableLayout.offsetOf('used') / 4;
/** Byte offset of the first string table entry. */
export const STRING_TABLE_ENTRIES_OFFSET = StringTableLayout.offsetOf('entries');
/** Default length of a buffer's string table. */
export const STRING_TABLE_LENGTH = 256 * 1024;

/** Every region, in the order {@link describeLayout} prints them. */
export const ALL_LAYOUTS: readonly Layout[] = [
  SubbufHeaderLayout,
  EventHeaderLayout,
  MetaLayout,
  CpuControlLayout,
  GlobalControlLayout,
  AnchorLayout,
  ClockPageLayout,
  FtraceCommonLayout,
  EventRegistryLayout,
  StringTableLayout,
];

/**
 * Prints every shared layout as `field: name; offset: N; size: N;` lines, the format of the
 * kernel's `events/header_page`, followed by a one-line description.
 */
export function describeLayout(): string {
  const out: string[] = [];
  for (const layout of ALL_LAYOUTS) {
    out.push(`# ${layout.title} (${layout.length} bytes)`);
    for (const f of layout.fields) {
      if (f.length === 0 && f.doc === 'cache-line boundary') {
        out.push(`\t-- ${f.name} @${f.offset}`);
        continue;
      }
      out.push(`\tfield: ${f.name};\toffset:${f.offset};\tsize:${f.length};\t# ${f.doc}`);
    }
  }
  out.push('# per-sub-buffer arrays after the per-CPU control block (Int32 each, cache-line aligned)');
  for (const [i, a] of PageArrays.entries()) out.push(`\tarray ${i}: ${a.name};\t# ${a.doc}`);
  out.push(
    `# event types: data 1..${TYPE_DATA_MAX} short, 0 long; padding ${EventType.PADDING}; ` +
      `time_extend ${EventType.TIME_EXTEND}; time_stamp ${EventType.TIME_STAMP}`,
  );
  out.push(`# ring link flags: NORMAL ${PageFlag.NORMAL}, HEAD ${PageFlag.HEAD}, UPDATE ${PageFlag.UPDATE}`);
  return `${out.join('\n')}\n`;
}

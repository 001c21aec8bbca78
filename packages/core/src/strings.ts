/**
 * The buffer's string table, tracebuf's `printk_formats`: strings a producer refers to by ID
 * instead of copying them into every event (a log statement's message format, as the kernel's
 * `trace_printk` stores a format pointer). Shared by every thread of the buffer (a
 * SharedArrayBuffer in the handle); append-only and lock-free.
 *
 * An entry is a u32 word (the UTF-8 length + 1, stored last with `Atomics.store`; 0 while the
 * entry is being written) and the bytes, padded to 4. A string's ID is its entry's byte offset.
 * The same string interned by two threads at once may get two IDs; both stay valid.
 *
 * @packageDocumentation
 */
import { invalid } from './errors.js';
import { STRING_TABLE_ENTRIES_OFFSET, STRING_TABLE_LENGTH, STRING_TABLE_USED_INDEX } from './layout.js';

/** What {@link StringTable.intern} returns when the string cannot be interned (too long, table full). */
export const NO_STRING = -1;
/** Longest string (UTF-8 bytes) the table takes. */
export const MAX_INTERNED_LENGTH = 1024;
/** How many strings one thread remembers the IDs of. */
const THREAD_CACHE_LIMIT = 4096;

/** A buffer's string table in this thread. */
export class StringTable {
  /** The shared memory (it travels in the buffer's handle). */
  readonly sab: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #buf: Buffer;
  readonly #ids = new Map<string, number>();
  readonly #strings = new Map<number, string>();

  constructor(sab: SharedArrayBuffer) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < STRING_TABLE_ENTRIES_OFFSET + 8 || sab.byteLength % 4 !== 0) {
      invalid('not a tracebuf string table', 'strings', sab);
    }
    this.sab = sab;
    this.#i32 = new Int32Array(sab);
    this.#buf = Buffer.from(sab);
  }

  /** Allocates an empty table of `length` bytes. */
  static allocate(length = STRING_TABLE_LENGTH): SharedArrayBuffer {
    return new SharedArrayBuffer(length);
  }

  /**
   * The ID of `s`, interning it on first sight (from this thread); {@link NO_STRING} when it is
   * longer than {@link MAX_INTERNED_LENGTH} bytes or the table is full. A string this thread saw
   * before costs one Map lookup.
   */
  intern(s: string): number {
    const known = this.#ids.get(s);
    if (known !== undefined) return known;
    const length = Buffer.byteLength(s, 'utf8');
    if (length > MAX_INTERNED_LENGTH) return NO_STRING;
    const room = 4 + ((length + 3) & ~3);
    // Looked at first so that a full table's `used` stops growing (it could not wrap).
    const full = STRING_TABLE_ENTRIES_OFFSET + Atomics.load(this.#i32, STRING_TABLE_USED_INDEX) + room > this.sab.byteLength;
    const at = full ? this.sab.byteLength : STRING_TABLE_ENTRIES_OFFSET + Atomics.add(this.#i32, STRING_TABLE_USED_INDEX, room);
    if (at + room > this.sab.byteLength) {
      // Full: the used count stays past the end, so every later intern fails fast too.
      if (this.#ids.size < THREAD_CACHE_LIMIT) this.#ids.set(s, NO_STRING);
      return NO_STRING;
    }
    this.#buf.write(s, at + 4, length, 'utf8');
    // Publishes the bytes above: a reader that sees the length sees them.
    Atomics.store(this.#i32, at >> 2, length + 1);
    if (this.#ids.size < THREAD_CACHE_LIMIT) this.#ids.set(s, at);
    return at;
  }

  /** The string of ID `id` (any thread's). `EINVAL` naming the ID when there is no such entry. */
  get(id: number): string {
    const cached = this.#strings.get(id);
    if (cached !== undefined) return cached;
    const used = Math.min(Atomics.load(this.#i32, STRING_TABLE_USED_INDEX), this.sab.byteLength - STRING_TABLE_ENTRIES_OFFSET);
    if (!Number.isInteger(id) || id < STRING_TABLE_ENTRIES_OFFSET || id % 4 !== 0 || id + 4 > STRING_TABLE_ENTRIES_OFFSET + used) {
      invalid('no such string in the string table', 'id', id);
    }
    const word = Atomics.load(this.#i32, id >> 2);
    if (word <= 0 || id + 4 + word - 1 > this.sab.byteLength) invalid('no such string in the string table (entry not written)', 'id', id);
    const s = this.#buf.toString('utf8', id + 4, id + 4 + word - 1);
    this.#strings.set(id, s);
    return s;
  }

  /** Every entry published so far: ID → string, in the order they were appended. */
  entries(): Map<number, string> {
    const out = new Map<number, string>();
    const end = STRING_TABLE_ENTRIES_OFFSET + Math.min(Atomics.load(this.#i32, STRING_TABLE_USED_INDEX), this.sab.byteLength - STRING_TABLE_ENTRIES_OFFSET);
    for (let at = STRING_TABLE_ENTRIES_OFFSET; at + 4 <= end; ) {
      const word = Atomics.load(this.#i32, at >> 2);
      if (word <= 0) break; // being written: later entries are not looked at yet
      out.set(at, this.#buf.toString('utf8', at + 4, at + 4 + word - 1));
      at += 4 + ((word - 1 + 3) & ~3);
    }
    return out;
  }
}

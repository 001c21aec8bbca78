/**
 * The binary log record: what a log call stores in the producer thread — the level, the message
 * format's ID in the buffer's string table (or the message inline), the logger's bindings, the
 * merging object and the arguments, each value tagged — and its decoding in the consumer.
 *
 * The record is the payload of the typed event `tracebuf:log` (`level` u8, `msg` u32, `data`
 * bytes), so trace-cmd and `tracebuf report` show it too. `data`:
 *
 * ```
 *  u8 flags (HAS_OBJECT, MSG_INLINE, HAS_MSG)
 *  u32 length, bindings: the logger's pre-serialized JSON members (`,"name":"app","reqId":7`)
 *  [MSG_INLINE: a string value]
 *  [HAS_OBJECT: a value: the merging object]
 *  u8 argc, then argc values
 * ```
 *
 * A value is a tag byte and its bytes (little-endian): see {@link Tag}.
 *
 * @packageDocumentation
 */
import { TraceBufferError, defineEvent } from '@tracebuf/core';

/** The typed event every log record is. */
export const LogEvent = defineEvent('log', { level: 'u8', msg: 'u32', data: 'bytes' });

/** `msg` when the message is stored inline (not interned) or absent. */
export const MSG_NONE = 0xffff_ffff;

/** Bits of the record's flags byte. */
export const RecordFlag = { HAS_OBJECT: 1, MSG_INLINE: 2, HAS_MSG: 4 } as const;

/** Value tags. */
export const Tag = {
  UNDEFINED: 0,
  NULL: 1,
  FALSE: 2,
  TRUE: 3,
  /** i32. */
  INT: 4,
  /** f64. */
  NUMBER: 5,
  /** u32 length + UTF-8. */
  STRING: 6,
  /** u32 stored length + u32 full length + UTF-8 of the stored part. */
  STRING_CUT: 7,
  /** u32 length + decimal digits. */
  BIGINT: 8,
  /** u32 length + JSON text (objects and arrays; cycles as "[Circular]"). */
  JSON: 9,
  /** u32 length + JSON text of `{ type, message, stack, ...own fields }`. */
  ERROR: 10,
  /** u16 count, then count × (string key, value): a merging object with a few plain fields. */
  FLAT: 11,
} as const;

/** What a record may run past {@link Encoder.room}: 255 one-byte values and a cut string's header, with margin. */
export const ENCODER_SLACK = 400;

/** Strings up to this many UTF-16 units are copied in JS when they are ASCII. */
const ASCII_FAST_MAX = 64;

/** Largest flat-encoded merging object (more keys, or nested objects: JSON). */
const FLAT_MAX_KEYS = 16;

/** JSON.stringify that writes cycles as "[Circular]" and bigints as strings (as pino's safe stringify does). */
export function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
        if (v instanceof Error) return errorObject(v);
      }
      return v;
    }) ?? 'null'
  );
}

/** pino's `err` serializer shape: type, message, stack, and the error's own enumerable fields. */
export function errorObject(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.constructor?.name ?? 'Error', message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) if (!(k in out)) out[k] = v;
  return out;
}

/**
 * Encodes values into a reused scratch. `room` bounds the record: a string that does not fit is
 * cut (STRING_CUT keeps its full length, so the consumer can say how much was cut); anything
 * else that does not fit is replaced by a cut string saying so.
 */
export class Encoder {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  readonly #view: DataView;
  readonly #buf: Buffer;
  at = 0;
  /**
   * Bytes the values may take. Past it a value costs one byte (and a cut string nine), so a
   * record ends at most {@link ENCODER_SLACK} bytes beyond.
   */
  room = 0;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.words = new Int32Array(this.bytes.buffer);
    this.#view = new DataView(this.bytes.buffer);
    this.#buf = Buffer.from(this.bytes.buffer);
  }

  u8(v: number): void {
    this.bytes[this.at++] = v;
  }

  u32(v: number): void {
    this.#view.setUint32(this.at, v, true);
    this.at += 4;
  }

  /** Copies `src` (pre-encoded bytes; a loop for short ones, cheaper than TypedArray#set). */
  raw(src: Uint8Array): void {
    const n = src.length;
    if (n <= 64) {
      const u8 = this.bytes;
      for (let i = 0, at = this.at; i < n; i++) u8[at + i] = src[i]!;
    } else {
      this.bytes.set(src, this.at);
    }
    this.at += n;
  }

  /** A string value: whole, or cut to the room left. */
  string(s: string): void {
    const units = s.length;
    if (units <= ASCII_FAST_MAX && this.at + units + 5 <= this.room) {
      // Short strings: a JS copy while they stay ASCII (a native Buffer#write call costs more).
      const u8 = this.bytes;
      const start = this.at + 5;
      let i = 0;
      for (; i < units; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        u8[start + i] = c;
      }
      if (i === units) {
        u8[this.at] = Tag.STRING;
        this.#view.setUint32(this.at + 1, units, true);
        this.at = start + units;
        return;
      }
    }
    const left = Math.max(0, this.room - this.at - 9);
    const length = s.length <= left / 3 ? -1 : Buffer.byteLength(s, 'utf8');
    if (length <= left) {
      this.u8(Tag.STRING);
      const start = this.at;
      this.at += 4;
      const n = this.#buf.write(s, this.at, 'utf8');
      this.#view.setUint32(start, n, true);
      this.at += n;
      return;
    }
    this.u8(Tag.STRING_CUT);
    const start = this.at;
    this.at += 8;
    const n = left > 0 ? this.#buf.write(s, this.at, left, 'utf8') : 0;
    this.#view.setUint32(start, n, true);
    this.#view.setUint32(start + 4, length, true);
    this.at += n;
  }

  #text(tag: number, text: string): void {
    const n = Buffer.byteLength(text, 'utf8');
    if (n > this.room - this.at - 9) {
      this.string(text);
      return;
    }
    this.u8(tag);
    this.u32(n);
    this.at += this.#buf.write(text, this.at, 'utf8');
  }

  /** Any value. */
  value(v: unknown): void {
    if (this.at + 16 > this.room) {
      // No room left: a string still says how long it was (a cut string's 9-byte header) while
      // the first 64 bytes of slack last; after that one byte per value.
      if (typeof v === 'string' && this.at < this.room + 64) this.string(v);
      else this.u8(Tag.UNDEFINED);
      return;
    }
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        if ((v | 0) === v && !Object.is(v, -0)) {
          this.u8(Tag.INT);
          this.#view.setInt32(this.at, v, true);
          this.at += 4;
        } else {
          this.u8(Tag.NUMBER);
          this.#view.setFloat64(this.at, v, true);
          this.at += 8;
        }
        return;
      case 'boolean':
        this.u8(v ? Tag.TRUE : Tag.FALSE);
        return;
      case 'undefined':
        this.u8(Tag.UNDEFINED);
        return;
      case 'bigint':
        this.#text(Tag.BIGINT, v.toString());
        return;
      case 'object':
        if (v === null) this.u8(Tag.NULL);
        else if (v instanceof Error) this.#text(Tag.ERROR, safeJson(errorObject(v)));
        else this.#text(Tag.JSON, safeJson(v));
        return;
      default:
        this.string(String(v));
    }
  }

  /** The merging object: flat when it has a few fields of plain values, JSON otherwise. */
  object(obj: object): void {
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto === Object.prototype || proto === null) {
      // One pass, flat while the values are plain; a nested object or too many keys start over
      // as JSON.
      const start = this.at;
      this.u8(Tag.FLAT);
      const countAt = this.at;
      this.at += 2;
      let count = 0;
      let flat = true;
      for (const k in obj) {
        const v = (obj as Record<string, unknown>)[k];
        if (typeof v === 'function' || typeof v === 'symbol') continue;
        if (count === FLAT_MAX_KEYS || (typeof v === 'object' && v !== null && !(v instanceof Error))) {
          flat = false;
          break;
        }
        if (this.at + 32 > this.room) break;
        this.string(k);
        this.value(v);
        count++;
      }
      if (flat) {
        this.#view.setUint16(countAt, count, true);
        return;
      }
      this.at = start;
    }
    this.#text(Tag.JSON, safeJson(obj));
  }
}

/** A decoded value. `json` holds JSON text (objects, arrays, errors) as it was encoded. */
export type Decoded =
  | { readonly kind: 'plain'; readonly value: string | number | boolean | null | undefined | bigint }
  | { readonly kind: 'cut'; readonly value: string; readonly fullLength: number }
  | { readonly kind: 'json'; readonly text: string; readonly error: boolean }
  | { readonly kind: 'flat'; readonly entries: readonly [string, Decoded][] };

/** Reads values back; every read is bounds-checked (`EINVAL` naming the offset). */
export class Decoder {
  at = 0;
  #end = 0;
  #base = 0;
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(new ArrayBuffer(0));
  #buf: Buffer = Buffer.alloc(0);

  /** Points at `bytes[at, end)`; `base` is added to offsets in errors. */
  load(bytes: Uint8Array, at: number, end: number, base = 0): void {
    if (bytes !== this.#bytes) {
      // Views are built once per memory (the ring's memory changes only on a resize or a swap).
      this.#bytes = bytes;
      this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.at = at;
    this.#end = end;
    this.#base = base - at;
  }

  #need(n: number): void {
    if (this.at + n > this.#end) throw new TraceBufferError('EINVAL', `log record runs past its end: offset=${this.#base + this.at}`);
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.at++]!;
  }

  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  text(n: number): string {
    this.#need(n);
    const s = this.#buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }

  /** The view the record is read through (for the consumer's fixed fields). */
  get view(): DataView {
    return this.#view;
  }

  value(): Decoded {
    const at = this.at;
    const tag = this.u8();
    switch (tag) {
      case Tag.UNDEFINED:
        return { kind: 'plain', value: undefined };
      case Tag.NULL:
        return { kind: 'plain', value: null };
      case Tag.FALSE:
        return { kind: 'plain', value: false };
      case Tag.TRUE:
        return { kind: 'plain', value: true };
      case Tag.INT: {
        this.#need(4);
        const v = this.#view.getInt32(this.at, true);
        this.at += 4;
        return { kind: 'plain', value: v };
      }
      case Tag.NUMBER: {
        this.#need(8);
        const v = this.#view.getFloat64(this.at, true);
        this.at += 8;
        return { kind: 'plain', value: v };
      }
      case Tag.STRING:
        return { kind: 'plain', value: this.text(this.u32()) };
      case Tag.STRING_CUT: {
        const n = this.u32();
        const full = this.u32();
        return { kind: 'cut', value: this.text(n), fullLength: full };
      }
      case Tag.BIGINT:
        return { kind: 'plain', value: BigInt(this.text(this.u32()).replace(/[^0-9-]/g, '') || '0') };
      case Tag.JSON:
      case Tag.ERROR:
        return { kind: 'json', text: this.text(this.u32()), error: tag === Tag.ERROR };
      case Tag.FLAT: {
        const count = this.u16();
        const entries: [string, Decoded][] = [];
        for (let i = 0; i < count; i++) {
          const key = this.value();
          if (key.kind !== 'plain' && key.kind !== 'cut') throw new TraceBufferError('EINVAL', `log record has a non-string key: offset=${this.#base + at}`);
          entries.push([String(key.value), this.value()]);
        }
        return { kind: 'flat', entries };
      }
      default:
        throw new TraceBufferError('EINVAL', `log record has an unknown value tag ${tag}: offset=${this.#base + at}`);
    }
  }
}

/**
 * The binary log record: what a log call stores in the producer thread — the level, the message
 * format's ID in the buffer's string table (or the message inline), the logger's bindings, the
 * merging object and the arguments, each value tagged — and its decoding in the consumer.
 *
 * The record is the payload of the typed event `tracebuf:log` (`level` u8, `msg` u32, `data`
 * bytes), so trace-cmd and `tracebuf report` show it too. `data`:
 *
 * ```
 *  u8 flags (HAS_OBJECT, MSG_INLINE, HAS_MSG, BINDINGS_ID, DROPS)
 *  [DROPS: u32, records this thread's ring refused since its last record]
 *  bindings: the logger's pre-serialized JSON members (`,"name":"app","reqId":7`):
 *    [BINDINGS_ID: u32, their ID in the buffer's string table; else u32 length + the bytes]
 *  [MSG_INLINE: a string value]
 *  [HAS_OBJECT: a value: the merging object — FLAT, SHAPED or JSON]
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
export const RecordFlag = { HAS_OBJECT: 1, MSG_INLINE: 2, HAS_MSG: 4, BINDINGS_ID: 8, DROPS: 16 } as const;

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
  /**
   * u32 length + a JSON array of two strings: an error argument's `String(err)` (what `%s`
   * writes) and its JSON text as pino writes it (what `%j` and `%o` write).
   */
  ERROR: 10,
  /** u16 count, then count × (string key, value): a merging object with a few plain fields. */
  FLAT: 11,
  /**
   * u32 shape ID, then one value per key: a FLAT object whose keys are those of the shape — a
   * string-table entry holding the keys as a JSON array — so the keys are not copied per call.
   */
  SHAPED: 12,
} as const;

/**
 * The keys the merging objects of one log statement had last, interned as a shape: the next
 * object with the same keys in the same order is stored as SHAPED (values only).
 */
export interface ShapeCache {
  keys: readonly string[] | undefined;
  id: number;
}

/**
 * What a record may run past {@link Encoder.room}: 255 one-byte values, a cut string's header and
 * a truncated object's last field, with margin.
 */
export const ENCODER_SLACK = 400;

/**
 * The field that says a merging object did not fit its record: how many fields were left out, or
 * (for one written as JSON) the start of its text and how long it was.
 */
export const TRUNCATED_KEY = 'tracebuf_truncated';

/** Strings up to this many UTF-16 units are copied in JS when they are ASCII. */
const ASCII_FAST_MAX = 64;

/** Largest flat-encoded merging object (more keys, or nested objects: JSON). */
const FLAT_MAX_KEYS = 16;

/** pino's `depthLimit` and `edgeLimit` defaults: how deep and how wide its fallback stringify goes. */
const DEPTH_LIMIT = 5;
const EDGE_LIMIT = 100;

/**
 * JSON text of a value as pino writes one (a merging object's field, a binding, a `%j`
 * argument): `JSON.stringify`, or where that throws (a BigInt, a cycle) the stable stringify
 * pino falls back to — keys sorted, BigInts as their digits, a cycle as `"[Circular]"`, deeper
 * than 5 levels `"[Object]"`/`"[Array]"`, past 100 entries a count of those left out. `null` for
 * what JSON has no text for (a function, a symbol, undefined).
 */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    try {
      return stableJson('', value, []) ?? 'null';
    } catch {
      return '"[unable to serialize, circular reference is too complex to analyze]"';
    }
  }
}

/** "1 item", "N items". */
function itemCount(n: number): string {
  return n === 1 ? '1 item' : `${n} items`;
}

/** The fallback of {@link safeJson} for `value` under `key`, inside the objects of `stack`; undefined: no text. */
function stableJson(key: string, value: unknown, stack: object[]): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      let v: object = value;
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        const j = (toJSON as (k: string) => unknown).call(v, key);
        if (typeof j !== 'object' || j === null) return stableJson(key, j, stack);
        v = j;
      }
      if (stack.includes(v)) return '"[Circular]"';
      if (Array.isArray(v)) {
        if (v.length === 0) return '[]';
        if (stack.length + 1 > DEPTH_LIMIT) return '"[Array]"';
        stack.push(v);
        const items: string[] = [];
        for (let i = 0; i < Math.min(v.length, EDGE_LIMIT); i++) items.push(stableJson(String(i), v[i], stack) ?? 'null');
        // (As safe-stable-stringify counts: one entry past the limit goes unmentioned.)
        if (v.length - 1 > EDGE_LIMIT) items.push(`"... ${itemCount(v.length - EDGE_LIMIT - 1)} not stringified"`);
        stack.pop();
        return `[${items.join(',')}]`;
      }
      const keys = Object.keys(v);
      if (keys.length === 0) return '{}';
      if (stack.length + 1 > DEPTH_LIMIT) return '"[Object]"';
      keys.sort();
      stack.push(v);
      let out = '';
      for (let i = 0; i < Math.min(keys.length, EDGE_LIMIT); i++) {
        const k = keys[i]!;
        const text = stableJson(k, (v as Record<string, unknown>)[k], stack);
        if (text !== undefined) out += `${out === '' ? '' : ','}${JSON.stringify(k)}:${text}`;
      }
      if (keys.length > EDGE_LIMIT) out += `${out === '' ? '' : ','}"...":"${itemCount(keys.length - EDGE_LIMIT)} not stringified"`;
      stack.pop();
      return `{${out}}`;
    }
    default:
      return undefined;
  }
}

/** What pino's `err` serializer takes for an error: anything with a string `message`. */
function isErrorLike(v: unknown): v is { message: string; stack?: unknown; cause?: unknown } {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string';
}

/** The cause of `err` that pino's serializer follows (`cause`, or a VError-style `cause()`). */
function causeOf(err: { cause?: unknown }): { message: string; stack?: unknown; cause?: unknown } | undefined {
  const cause = typeof err.cause === 'function' ? (err.cause as () => unknown).call(err) : err.cause;
  return isErrorLike(cause) ? cause : undefined;
}

/** `a: b: c` for an error and its causes (pino's messageWithCauses). */
function messageWithCauses(err: { message: string; cause?: unknown }, seen = new Set<object>(), skip = false): string {
  const message = skip ? '' : err.message;
  if (seen.has(err)) return `${message}: ...`;
  const cause = causeOf(err);
  if (cause === undefined) return message;
  seen.add(err);
  const vErrorStyle = typeof err.cause === 'function';
  return message + (vErrorStyle ? '' : ': ') + messageWithCauses(cause, seen, vErrorStyle);
}

/** The stacks of an error and its causes, joined by `caused by:` (pino's stackWithCauses). */
function stackWithCauses(err: { stack?: unknown; cause?: unknown }, seen = new Set<object>()): string {
  const stack = typeof err.stack === 'string' ? err.stack : '';
  if (seen.has(err)) return `${stack}\ncauses have become circular...`;
  const cause = causeOf(err);
  if (cause === undefined) return stack;
  seen.add(err);
  return `${stack}\ncaused by: ${stackWithCauses(cause, seen)}`;
}

/**
 * An error as pino's `err` serializer makes it: `type` (its constructor's name), `message` and
 * `stack` with their causes', `aggregateErrors` for an AggregateError, then its enumerable
 * fields, errors among them serialized alike (but not `cause`, nor an error being serialized
 * further up). Anything that is not error-like (no string `message`) is returned as it is.
 */
export function errorObject(err: unknown, path = new Set<object>()): unknown {
  if (!isErrorLike(err)) return err;
  path.add(err);
  const ctor = (err as { constructor?: unknown }).constructor;
  const out: Record<string, unknown> = {
    type: typeof ctor === 'function' ? ctor.name : (err as { name?: unknown }).name,
    message: messageWithCauses(err),
    stack: stackWithCauses(err),
  };
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) out['aggregateErrors'] = errors.map((e) => errorObject(e, path));
  for (const key in err) {
    if (out[key] !== undefined) continue;
    const v = (err as Record<string, unknown>)[key];
    if (!isErrorLike(v)) out[key] = v;
    else if (key !== 'cause' && !path.has(v)) out[key] = errorObject(v, path);
  }
  path.delete(err);
  return out;
}

/**
 * JSON text of one field as pino writes a merging object's or a child's bindings' fields
 * (undefined: the field is left out — undefined, a function, a symbol): `err` through the `err`
 * serializer, numbers that are not finite as null, the rest by {@link safeJson}.
 */
export function fieldJson(key: string, value: unknown): string | undefined {
  const v = key === 'err' ? errorObject(value) : value;
  switch (typeof v) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return String(v);
    case 'string':
      return JSON.stringify(v);
    default:
      return safeJson(v);
  }
}

/** `String(err)`, as a `%s` placeholder writes an error (its own `toString` may throw: then the default). */
function errorString(err: Error): string {
  try {
    return String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/**
 * A merging object as pino writes one, as a JSON object: its own enumerable fields in order, each
 * as {@link fieldJson} makes it.
 */
export function mergingJson(obj: object): string {
  let out = '';
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    const text = fieldJson(key, (obj as Record<string, unknown>)[key]);
    if (text !== undefined) out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${text}`;
  }
  return `{${out}}`;
}

/** Stores `v` as a little-endian u32 at `at` of `b` (plain stores: cheaper than a DataView call per field). */
export function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
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
    // Short ASCII strings: a JS copy (a native Buffer#write call costs more).
    const end = this.#ascii(s, this.at);
    if (end >= 0) this.at = end;
    else this.#utf8(s);
  }

  /** A string {@link #ascii} did not take: UTF-8 by `Buffer#write`, cut to the room left. */
  #utf8(s: string): void {
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

  /** A short ASCII string past the room (within {@link ENCODER_SLACK}): a marker that must not be cut. */
  #marker(text: string): void {
    this.u8(Tag.STRING);
    this.u32(text.length);
    for (let i = 0; i < text.length; i++) this.bytes[this.at++] = text.charCodeAt(i);
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

  /**
   * A short ASCII string at `at` (tag, length, bytes), copied in JS; returns the end, or -1
   * (nothing written that counts) when it is longer than {@link ASCII_FAST_MAX}, does not fit, or
   * is not ASCII.
   */
  #ascii(s: string, at: number): number {
    const units = s.length;
    if (units > ASCII_FAST_MAX || at + units + 5 > this.room) return -1;
    const u8 = this.bytes;
    const start = at + 5;
    for (let i = 0; i < units; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return -1;
      u8[start + i] = c;
    }
    u8[at] = Tag.STRING;
    u8[at + 1] = units;
    u8[at + 2] = 0;
    u8[at + 3] = 0;
    u8[at + 4] = 0;
    return start + units;
  }

  /** Any value: the common kinds (short ASCII strings, int32s, booleans) inline, the rest in {@link #other}. */
  value(v: unknown): void {
    const at = this.at;
    if (at + 16 <= this.room) {
      if (typeof v === 'string') {
        const end = this.#ascii(v, at);
        if (end >= 0) this.at = end;
        else this.#utf8(v);
        return;
      }
      if (typeof v === 'number' && (v | 0) === v && (v !== 0 || 1 / v > 0)) {
        this.bytes[at] = Tag.INT;
        this.#view.setInt32(at + 1, v, true);
        this.at = at + 5;
        return;
      }
      if (typeof v === 'boolean') {
        this.bytes[at] = v ? Tag.TRUE : Tag.FALSE;
        this.at = at + 1;
        return;
      }
    }
    this.#other(v);
  }

  #other(v: unknown): void {
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
        else if (v instanceof Error) this.#text(Tag.ERROR, JSON.stringify([errorString(v), safeJson(v)]));
        else this.#text(Tag.JSON, safeJson(v));
        return;
      default:
        this.string(String(v));
    }
  }

  /**
   * The merging object: SHAPED when its keys are those of `shape` (a statement's last ones),
   * FLAT when it has a few fields of plain values (and then `shape` learns its keys, interned
   * with `intern`), JSON otherwise.
   */
  object(obj: object, shape?: ShapeCache, intern?: (s: string) => number): void {
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto === Object.prototype || proto === null) {
      if (shape?.keys !== undefined && this.#shaped(obj, shape.keys, shape.id)) return;
      // One pass, flat while the values are plain; a nested object or too many keys start over
      // as JSON.
      const start = this.at;
      this.u8(Tag.FLAT);
      const countAt = this.at;
      this.at += 2;
      let count = 0;
      let flat = true;
      // Fields that did not fit: counted, and said so by a last field.
      let left = 0;
      for (const k in obj) {
        const v = (obj as Record<string, unknown>)[k];
        if (typeof v === 'function' || typeof v === 'symbol') continue;
        if (left !== 0) {
          left++;
          continue;
        }
        if (count === FLAT_MAX_KEYS || (typeof v === 'object' && v !== null)) {
          flat = false;
          break;
        }
        if (this.at + 32 > this.room) {
          left = 1;
          continue;
        }
        this.string(k);
        this.value(v);
        count++;
      }
      if (flat) {
        if (left !== 0) {
          this.#marker(TRUNCATED_KEY);
          this.#marker(`${left} field${left === 1 ? '' : 's'} left out: the record is full`);
          count++;
        }
        this.#view.setUint16(countAt, count, true);
        if (shape !== undefined && intern !== undefined && count > 0) learnShape(obj, count, shape, intern);
        return;
      }
      this.at = start;
    }
    this.#text(Tag.JSON, mergingJson(obj));
  }

  /** `obj` as SHAPED when its plain fields are exactly `keys`, in order; false (nothing written) otherwise. */
  #shaped(obj: object, keys: readonly string[], id: number): boolean {
    const start = this.at;
    if (start + 5 + 16 * keys.length > this.room) return false;
    const u8 = this.bytes;
    u8[start] = Tag.SHAPED;
    putU32(u8, start + 1, id);
    // A local cursor: the common values (short ASCII strings, int32s, booleans) are written here;
    // the others through value(), which works on `this.at`.
    let at = start + 5;
    let j = 0;
    for (const k in obj) {
      const v = (obj as Record<string, unknown>)[k];
      if (keys[j] !== k) {
        // Not the shape's next key: a field that is never written (a function, a symbol), or
        // another shape. (Past the last key, keys[j] is undefined.)
        if (typeof v === 'function' || typeof v === 'symbol') continue;
        this.at = start;
        return false;
      }
      j++;
      if (at + 32 > this.room) {
        this.at = start;
        return false;
      }
      if (typeof v === 'string') {
        const end = this.#ascii(v, at);
        if (end >= 0) {
          at = end;
          continue;
        }
      } else if (typeof v === 'number') {
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          u8[at] = Tag.INT;
          putU32(u8, at + 1, v);
          at += 5;
          continue;
        }
      } else if (typeof v === 'boolean') {
        u8[at++] = v ? Tag.TRUE : Tag.FALSE;
        continue;
      } else if ((typeof v === 'object' && v !== null) || typeof v === 'function' || typeof v === 'symbol') {
        this.at = start;
        return false;
      }
      this.at = at;
      this.value(v);
      at = this.at;
    }
    if (j !== keys.length) {
      this.at = start;
      return false;
    }
    this.at = at;
    return true;
  }
}

/**
 * Remembers the keys of a FLAT-encoded object as `shape` (the plain fields, in order), interned
 * as a JSON array; a full string table leaves the shape unknown. Runs only when the keys changed.
 */
function learnShape(obj: object, count: number, shape: ShapeCache, intern: (s: string) => number): void {
  const keys: string[] = [];
  for (const k in obj) {
    const v = (obj as Record<string, unknown>)[k];
    if (typeof v === 'function' || typeof v === 'symbol') continue;
    keys.push(k);
  }
  // A record cut short (no room) wrote fewer keys than the object has: no shape from it.
  if (keys.length !== count) return;
  const id = intern(JSON.stringify(keys));
  if (id < 0) {
    shape.keys = undefined;
    return;
  }
  shape.keys = keys;
  shape.id = id;
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
  /** The keys of shape `id` (SHAPED objects); `EINVAL` for an unknown shape. Set by the consumer. */
  shapeKeys: (id: number) => readonly string[] = (id) => {
    throw new TraceBufferError('EINVAL', `log record refers to an unknown key shape: shape=${id}`);
  };

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
      case Tag.SHAPED: {
        const keys = this.shapeKeys(this.u32());
        const entries: [string, Decoded][] = [];
        for (const key of keys) entries.push([key, this.value()]);
        return { kind: 'flat', entries };
      }
      default:
        throw new TraceBufferError('EINVAL', `log record has an unknown value tag ${tag}: offset=${this.#base + at}`);
    }
  }
}

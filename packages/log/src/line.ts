/**
 * The consumer's fast path: a log record rendered as its NDJSON line straight from the record's
 * bytes into an output byte buffer — keys, strings (JSON-escaped as they are copied), integers
 * and the pre-serialized bindings and JSON values — with no JS string per value. Records it does
 * not cover (an inline or non-string message, cut strings, BigInt arguments, `%j`/`%o`
 * placeholders) return `false` and take the general path of consumer.ts, which gives the same
 * text.
 *
 * @packageDocumentation
 */
import { RecordFlag, Tag } from './record.js';

/** A message format compiled once per string-table ID: literal pieces (JSON-escaped UTF-8) and placeholders. */
export interface CompiledFormat {
  readonly pieces: readonly Uint8Array[];
  /** Placeholder letters between the pieces (`s`, `d`, `i`, `f`). */
  readonly specs: string;
  /** Whether the format has what the fast path does not render (`%j`, `%o`, `%O`, a `%` before another character). */
  readonly slow: boolean;
  /**
   * Most bytes the message may take beyond its arguments' own (escaped, at most 6 per byte of the
   * record): the pieces, `,"msg":"` and `"`, and per placeholder what a one-byte value may become
   * (`undefined`, or the placeholder itself when the argument is missing).
   */
  readonly room: number;
  /**
   * Whether the format has `%%`. A call without arguments leaves its format as it is (quick-format:
   * `%%` stays two characters), which the pieces (one `%`) are not: such records take the general
   * path.
   */
  readonly percent: boolean;
  /** Line templates of this format's records, by bindings and key shape (see {@link FastRenderer.render}). */
  readonly templates: LineTemplate[];
}

/**
 * The constant bytes of one kind of line, joined: for a record with the bindings `bindings`, the
 * merging object's key shape `shape` and one format, `chunks` are what comes after the head
 * (level, time, pid, hostname) before, between and after its values (the shape's values, then
 * the message's arguments): `bindings + first key`, the next keys, `,"msg":"` + the first piece,
 * the next pieces, and `"}` + newline after the last. A line is then the head, one copy per
 * chunk and one rendering per value.
 */
export interface LineTemplate {
  /** The bindings' string ID, or -1 for none. */
  readonly bindings: number;
  /** The key shape's string ID, or -1 for no merging object. */
  readonly shape: number;
  /** How many of the values are the shape's. */
  readonly keys: number;
  readonly chunks: readonly Uint8Array[];
  /** The chunks' bytes, and 16 per argument (what a one-byte value may become). */
  readonly room: number;
}

const HEX = '0123456789abcdef';

/** The letter of JSON's two-character escapes (`\"`, `\\`, `\n`, ...) by character code; 0: `\u00XX`. */
const SHORT_ESCAPES = new Uint8Array(0x5d);
for (const [c, letter] of [['"', '"'], ['\\', '\\'], ['\n', 'n'], ['\r', 'r'], ['\t', 't'], ['\b', 'b'], ['\f', 'f']] as const) {
  SHORT_ESCAPES[c.charCodeAt(0)] = letter.charCodeAt(0);
}

/** What opens the message member. */
const MSG_OPEN = Buffer.from(',"msg":"');
/** What closes a line with a message. */
const MSG_CLOSE = Buffer.from('"}\n');
const NO_BYTES = new Uint8Array(0);

/** Compiles `fmt` (quick-format's placeholders; `%%` is a literal percent sign). */
export function compileFormat(fmt: string): CompiledFormat {
  const pieces: Uint8Array[] = [];
  let specs = '';
  let slow = false;
  let percent = false;
  let literal = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c === '%' && i + 1 < fmt.length) {
      const n = fmt[i + 1]!;
      if (n === '%') {
        percent = true;
        literal += '%';
        i++;
        continue;
      }
      if ('sdifjoO'.includes(n)) {
        if ('joO'.includes(n)) slow = true;
        pieces.push(Buffer.from(JSON.stringify(literal).slice(1, -1), 'utf8'));
        specs += n;
        literal = '';
        i++;
        continue;
      }
      // Any other character after a `%` takes an argument's place in quick-format (consumer.ts,
      // interpolate): the general path.
      slow = true;
    }
    literal += c;
  }
  pieces.push(Buffer.from(JSON.stringify(literal).slice(1, -1), 'utf8'));
  const room = pieces.reduce((n, p) => n + p.length, 0) + MSG_OPEN.length + 1 + specs.length * 16;
  return { pieces, specs, slow, room, percent, templates: [] };
}

const NULL_BYTES = Buffer.from('null');
const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');

/**
 * Arrays of bytes this long or longer are copied with `TypedArray#set` (~15 ns whatever the
 * length, on Node 20 here), shorter ones by a loop (~2.3 ns a byte).
 */
const NATIVE_COPY_MIN = 7;

/** Record text this long or longer (a merging object's JSON) is copied natively, through a view made for it (one allocation). */
const JSON_COPY_NATIVE = 64;

/** An output byte buffer that lines are rendered into. */
export class LineBuffer {
  buf: Buffer = Buffer.allocUnsafe(1 << 16);
  at = 0;

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  /** A whole array of bytes (a prepared piece: a head, a prefix), as {@link copyInto} copies it. */
  piece(src: Uint8Array): void {
    this.at = copyInto(this.buf, this.at, src);
  }
}

/** The strings a record refers to by ID, as the renderer needs them (undefined: no such string). */
export interface RecordStrings {
  /** The bytes of the bindings interned as `id`. */
  bindings(id: number): Uint8Array | undefined;
  /** The `,"key":` bytes of each key of shape `id`. */
  shape(id: number): readonly Uint8Array[] | undefined;
}

/** `src` copied into `b` at `at`; returns the end. A native copy from {@link NATIVE_COPY_MIN} bytes, a loop below. */
function copyInto(b: Uint8Array, at: number, src: Uint8Array): number {
  const n = src.length;
  if (n >= NATIVE_COPY_MIN) {
    b.set(src, at);
    return at + n;
  }
  for (let i = 0; i < n; i++) b[at + i] = src[i]!;
  return at + n;
}

/** UTF-8 `src[from, to)` as JSON string content into `b` at `at` (escaping `"`, `\` and control characters); returns the end. */
function escapeInto(b: Uint8Array, at: number, src: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = src[i]!;
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      b[at++] = c;
      continue;
    }
    b[at++] = 0x5c;
    const short = c < SHORT_ESCAPES.length ? SHORT_ESCAPES[c]! : 0;
    if (short !== 0) {
      b[at++] = short;
      continue;
    }
    b[at++] = 0x75; // \u00XX
    b[at++] = 0x30;
    b[at++] = 0x30;
    b[at++] = HEX.charCodeAt(c >> 4);
    b[at++] = HEX.charCodeAt(c & 15);
  }
  return at;
}

/** The decimal digits of int32 `n` into `b` at `at`; returns the end. */
function int32Into(b: Uint8Array, at: number, n: number): number {
  if (n < 0) {
    b[at++] = 0x2d;
    if (n === -0x8000_0000) {
      // (Its magnitude is no int32.)
      for (let i = 0; i < 10; i++) b[at + i] = '2147483648'.charCodeAt(i);
      return at + 10;
    }
    n = -n;
  }
  let digits = 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
  const end = at + digits;
  for (let i = end - 1, m = n; i >= at; i--, m = (m / 10) | 0) b[i] = 48 + (m % 10);
  return end;
}

/** The size of the value at `at` of `src` (tag included), or -1 when it runs past `end` or the fast path does not read it. */
function valueSize(src: Uint8Array, view: DataView, at: number, end: number): number {
  if (at >= end) return -1;
  let size: number;
  switch (src[at]!) {
    case Tag.UNDEFINED:
    case Tag.NULL:
    case Tag.FALSE:
    case Tag.TRUE:
      size = 1;
      break;
    case Tag.INT:
      size = 5;
      break;
    case Tag.NUMBER:
      size = 9;
      break;
    case Tag.STRING:
    case Tag.BIGINT:
    case Tag.JSON:
    case Tag.ERROR:
      if (at + 5 > end) return -1;
      size = 5 + view.getUint32(at + 1, true);
      break;
    default:
      return -1; // STRING_CUT, FLAT (not an argument), unknown
  }
  return at + size <= end ? size : -1;
}

/**
 * A value as JSON into `b` at `at`; returns the end, or -1 when the fast path does not cover it.
 * `null`, `true`, `false` and integers are also their own `%s` text ({@link textInto}).
 */
function jsonInto(b: Uint8Array, at: number, src: Uint8Array, view: DataView, v: number): number {
  switch (src[v]!) {
    case Tag.INT:
      return int32Into(b, at, view.getInt32(v + 1, true));
    case Tag.BIGINT: {
      // Its digits, as pino's stringify writes a BigInt.
      return bytesInto(b, at, src, v + 5, v + 5 + view.getUint32(v + 1, true));
    }
    case Tag.STRING: {
      b[at] = 0x22;
      at = escapeInto(b, at + 1, src, v + 5, v + 5 + view.getUint32(v + 1, true));
      b[at] = 0x22;
      return at + 1;
    }
    case Tag.TRUE:
      return copyInto(b, at, TRUE_BYTES);
    case Tag.FALSE:
      return copyInto(b, at, FALSE_BYTES);
    case Tag.NULL:
      return copyInto(b, at, NULL_BYTES);
    case Tag.NUMBER: {
      const n = view.getFloat64(v + 1, true);
      return asciiInto(b, at, Number.isFinite(n) ? String(n) : 'null');
    }
    default:
      return -1;
  }
}

/** A value as `%s`/`%d`/`%i`/`%f` text inside the message (JSON-escaped) into `b` at `at`; returns the end, or -1 when not covered. */
function textInto(b: Uint8Array, at: number, src: Uint8Array, view: DataView, v: number, spec: number): number {
  const tag = src[v]!;
  if (tag === Tag.NUMBER) {
    const n = view.getFloat64(v + 1, true);
    return asciiInto(b, at, String(spec === 0x69 /* i */ ? Math.floor(n) : n));
  }
  if (spec === 0x73 /* s */) {
    if (tag === Tag.STRING) return escapeInto(b, at, src, v + 5, v + 5 + view.getUint32(v + 1, true));
    if (tag === Tag.UNDEFINED) return asciiInto(b, at, 'undefined');
    if (tag === Tag.INT || tag === Tag.NULL || tag === Tag.TRUE || tag === Tag.FALSE) return jsonInto(b, at, src, view, v);
    return -1;
  }
  if (tag === Tag.INT) return int32Into(b, at, view.getInt32(v + 1, true));
  return -1;
}

/** `src[from, to)` copied into `b` at `at`; returns the end. Natively from {@link JSON_COPY_NATIVE} bytes (through a view made for it), a loop below. */
function bytesInto(b: Uint8Array, at: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from;
  if (n >= JSON_COPY_NATIVE) {
    b.set(new Uint8Array(src.buffer, src.byteOffset + from, n), at);
    return at + n;
  }
  for (let i = 0; i < n; i++) b[at + i] = src[from + i]!;
  return at + n;
}

/** An ASCII string into `b` at `at`; returns the end. */
function asciiInto(b: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
  return at + s.length;
}

/** Templates one format keeps (its records with other bindings or shapes: value by value). */
const TEMPLATES_PER_FORMAT = 8;

/** The {@link LineTemplate} of `format` for records with these bindings and key shape. */
function lineTemplate(format: CompiledFormat, bindingsId: number, bindings: Uint8Array, shapeId: number, keys: readonly Uint8Array[]): LineTemplate {
  // Runs of constant bytes: before the first value, between values, after the last.
  const runs: Uint8Array[][] = [[bindings]];
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) runs.push([]);
    runs[runs.length - 1]!.push(keys[i]!);
  }
  if (keys.length > 0) runs.push([]);
  runs[runs.length - 1]!.push(MSG_OPEN, format.pieces[0]!);
  for (let k = 1; k < format.pieces.length; k++) runs.push([format.pieces[k]!]);
  runs[runs.length - 1]!.push(MSG_CLOSE);
  const chunks = runs.map((run) => Buffer.concat(run));
  const room = chunks.reduce((n, c) => n + c.length, 0) + 16 * format.specs.length;
  return { bindings: bindingsId, shape: shapeId, keys: keys.length, chunks, room };
}

/**
 * Room for a line of record data `[start, end)` after `head`, besides what the record names by ID:
 * the head, each byte of the record escaped (6 bytes at most: `\u00XX`) and 128 for the line's
 * own punctuation.
 */
function lineRoom(head: Uint8Array, start: number, end: number): number {
  return head.length + (end - start) * 6 + 128;
}

/** Renders records for the fast path (no bounds surprises: `end` is checked). */
export class FastRenderer {
  /** Where each argument's value starts in the record being rendered. */
  readonly #args = new Int32Array(256);

  /**
   * Renders one record's line into `out`: `head` (level, time, pid, hostname), then from the
   * record's data (`src[start, end)`) the bindings, the merging object, `"msg"`, `}` and a
   * newline. Returns false (leaving `out.at` anywhere: the caller rewinds) when the fast path
   * does not cover it. Makes room first, once, for all of it: the head, the record's bytes
   * escaped ({@link lineRoom}) and what the record names by ID (bindings, keys, the format's
   * pieces).
   *
   * Records of a statement logged again — a message format, the same bindings and key shape as
   * the format's last record, every key's value defined, an argument per placeholder — are
   * rendered from the format's {@link LineTemplate}: a copy per constant run, a rendering per
   * value. The others, value by value.
   */
  render(out: LineBuffer, src: Uint8Array, view: DataView, start: number, end: number, format: CompiledFormat | undefined, strings: RecordStrings, head: Uint8Array): boolean {
    if (format !== undefined && !format.slow && this.#templated(out, src, view, start, end, format, strings, head)) return true;
    return this.#valueByValue(out, src, view, start, end, format, strings, head);
  }

  /**
   * The argument count at `p` and each argument's offset (into `#args`); -1 when they run past
   * `end` or the fast path does not read one.
   */
  #readArgs(src: Uint8Array, view: DataView, p: number, end: number): number {
    if (p >= end) return -1;
    const argc = src[p++]!;
    const args = this.#args;
    for (let i = 0; i < argc; i++) {
      const size = valueSize(src, view, p, end);
      if (size < 0) return -1;
      args[i] = p;
      p += size;
    }
    return argc;
  }

  /** {@link render} from the format's template; false (nothing written that counts) when it does not apply. */
  #templated(out: LineBuffer, src: Uint8Array, view: DataView, start: number, end: number, format: CompiledFormat, strings: RecordStrings, head: Uint8Array): boolean {
    if (start + 5 > end) return false;
    const flags = src[start]!;
    let p = start + 1;
    if ((flags & (RecordFlag.MSG_INLINE | RecordFlag.DROPS)) !== 0) {
      if ((flags & RecordFlag.MSG_INLINE) !== 0 || start + 9 > end) return false;
      p += 4;
    }
    // The bindings: by ID, or none (a root logger's records carry an empty inline list).
    let bindingsId = -1;
    if ((flags & RecordFlag.BINDINGS_ID) !== 0) bindingsId = view.getUint32(p, true);
    else if (view.getUint32(p, true) !== 0) return false;
    p += 4;
    let shapeId = -1;
    if ((flags & RecordFlag.HAS_OBJECT) !== 0) {
      if (p + 5 > end || src[p] !== Tag.SHAPED) return false;
      shapeId = view.getUint32(p + 1, true);
      p += 5;
    }
    const templates = format.templates;
    let t: LineTemplate | undefined;
    for (let i = 0; i < templates.length; i++) {
      const c = templates[i]!;
      if (c.bindings === bindingsId && c.shape === shapeId) {
        t = c;
        break;
      }
    }
    if (t === undefined) {
      if (templates.length === TEMPLATES_PER_FORMAT) return false;
      const bindings = bindingsId === -1 ? NO_BYTES : strings.bindings(bindingsId);
      const keys = shapeId === -1 ? [] : strings.shape(shapeId);
      if (bindings === undefined || keys === undefined) return false;
      t = lineTemplate(format, bindingsId, bindings, shapeId, keys);
      templates.push(t);
    }
    const specs = format.specs;
    out.ensure(lineRoom(head, start, end) + t.room);
    const b = out.buf;
    const chunks = t.chunks;
    let at = copyInto(b, out.at, head);
    at = copyInto(b, at, chunks[0]!);
    for (let i = 0; i < t.keys; i++) {
      const size = valueSize(src, view, p, end);
      // (An undefined value's key is left out: not this template's line.)
      if (size < 0 || src[p] === Tag.UNDEFINED) return false;
      at = jsonInto(b, at, src, view, p);
      if (at < 0) return false;
      at = copyInto(b, at, chunks[i + 1]!);
      p += size;
    }
    const argc = this.#readArgs(src, view, p, end);
    if (argc < specs.length || (argc === 0 && format.percent)) return false;
    const args = this.#args;
    for (let k = 0; k < specs.length; k++) {
      at = textInto(b, at, src, view, args[k]!, specs.charCodeAt(k));
      if (at < 0) return false;
      at = copyInto(b, at, chunks[t.keys + k + 1]!);
    }
    out.at = at;
    return true;
  }

  /** {@link render}, value by value. */
  #valueByValue(out: LineBuffer, src: Uint8Array, view: DataView, start: number, end: number, format: CompiledFormat | undefined, strings: RecordStrings, head: Uint8Array): boolean {
    if (start + 5 > end) return false;
    let p = start;
    const flags = src[p++]!;
    if ((flags & RecordFlag.MSG_INLINE) !== 0) return false;
    // (The consumer has written the drop line already.)
    if ((flags & RecordFlag.DROPS) !== 0) {
      if (start + 9 > end) return false;
      p += 4;
    }
    let room = format === undefined ? 0 : format.room;
    let bindings: Uint8Array | undefined;
    let bindingsLength = 0;
    if ((flags & RecordFlag.BINDINGS_ID) !== 0) {
      bindings = strings.bindings(view.getUint32(p, true));
      if (bindings === undefined) return false;
      room += bindings.length;
      p += 4;
    } else {
      bindingsLength = view.getUint32(p, true);
      p += 4;
      if (p + bindingsLength > end) return false;
    }
    const hasObject = (flags & RecordFlag.HAS_OBJECT) !== 0;
    const tag = hasObject && p < end ? src[p]! : -1;
    if (hasObject && tag === -1) return false;
    let keys: readonly Uint8Array[] | undefined;
    if (tag === Tag.SHAPED) {
      if (p + 5 > end) return false;
      keys = strings.shape(view.getUint32(p + 1, true));
      if (keys === undefined) return false;
      for (let i = 0; i < keys.length; i++) room += keys[i]!.length;
    }
    out.ensure(lineRoom(head, start, end) + room);
    const b = out.buf;
    let at = copyInto(b, out.at, head);
    if (bindings !== undefined) {
      at = copyInto(b, at, bindings);
    } else {
      for (let i = 0; i < bindingsLength; i++) b[at + i] = src[p + i]!;
      at += bindingsLength;
      p += bindingsLength;
    }
    if (keys !== undefined) {
      p += 5;
      for (let i = 0; i < keys.length; i++) {
        const size = valueSize(src, view, p, end);
        if (size < 0) return false;
        if (src[p] !== Tag.UNDEFINED) {
          at = copyInto(b, at, keys[i]!);
          at = jsonInto(b, at, src, view, p);
          if (at < 0) return false;
        }
        p += size;
      }
    } else if (tag === Tag.FLAT) {
      if (p + 3 > end) return false;
      const count = view.getUint16(p + 1, true);
      p += 3;
      for (let i = 0; i < count; i++) {
        if (p >= end || src[p] !== Tag.STRING) return false;
        const keySize = valueSize(src, view, p, end);
        if (keySize < 0) return false;
        const valueAt = p + keySize;
        const size = valueSize(src, view, valueAt, end);
        if (size < 0) return false;
        if (src[valueAt] !== Tag.UNDEFINED) {
          b[at++] = 0x2c; // ,
          at = jsonInto(b, at, src, view, p);
          b[at++] = 0x3a; // :
          at = jsonInto(b, at, src, view, valueAt);
          if (at < 0) return false;
        }
        p = valueAt + size;
      }
    } else if (tag === Tag.JSON) {
      const size = valueSize(src, view, p, end);
      if (size < 0) return false;
      const n = size - 5;
      const from = p + 5;
      if (n < 2 || src[from] !== 0x7b || src[from + n - 1] !== 0x7d) return false;
      if (n > 2) {
        // The object's members: `,` and the text between its braces.
        b[at++] = 0x2c;
        at = bytesInto(b, at, src, from + 1, from + n - 1);
      }
      p += size;
    } else if (hasObject) {
      return false;
    }
    const argc = this.#readArgs(src, view, p, end);
    if (argc < 0) return false;
    const args = this.#args;
    if (format !== undefined) {
      if (format.slow || (argc === 0 && format.percent)) return false;
      const { pieces, specs } = format;
      at = copyInto(b, at, MSG_OPEN);
      at = copyInto(b, at, pieces[0]!);
      for (let k = 0; k < specs.length; k++) {
        if (k < argc) {
          at = textInto(b, at, src, view, args[k]!, specs.charCodeAt(k));
          if (at < 0) return false;
        } else {
          b[at++] = 0x25; // the placeholder stays, as quick-format leaves it
          b[at++] = specs.charCodeAt(k);
        }
        at = copyInto(b, at, pieces[k + 1]!);
      }
      b[at++] = 0x22;
    }
    b[at++] = 0x7d;
    b[at++] = 0x0a;
    out.at = at;
    return true;
  }
}

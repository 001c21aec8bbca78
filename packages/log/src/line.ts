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
  /** Whether the format has a placeholder the fast path does not render (`%j`, `%o`, `%O`). */
  readonly slow: boolean;
  /**
   * Most bytes the message may take beyond its arguments' own (escaped, at most 6 per byte of the
   * record): the pieces, `,"msg":"` and `"`, and per placeholder what a one-byte value may become
   * (`undefined`, or the placeholder itself when the argument is missing).
   */
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

/** Compiles `fmt` (quick-format's placeholders; `%%` is a literal percent sign). */
export function compileFormat(fmt: string): CompiledFormat {
  const pieces: Uint8Array[] = [];
  let specs = '';
  let slow = false;
  let literal = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c === '%' && i + 1 < fmt.length) {
      const n = fmt[i + 1]!;
      if (n === '%') {
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
    }
    literal += c;
  }
  pieces.push(Buffer.from(JSON.stringify(literal).slice(1, -1), 'utf8'));
  const room = pieces.reduce((n, p) => n + p.length, 0) + MSG_OPEN.length + 1 + specs.length * 16;
  return { pieces, specs, slow, room };
}

const NULL_BYTES = Buffer.from('null');
const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');

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

  /**
   * A whole array of bytes (a prepared piece: a head, a prefix, bindings, a key): a native copy
   * past 16 bytes (~19 ns for 48 bytes on Node 20, where a loop takes ~55), a loop below.
   */
  piece(src: Uint8Array): void {
    const n = src.length;
    if (n > 16) {
      this.buf.set(src, this.at);
      this.at += n;
      return;
    }
    const b = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) b[at++] = src[i]!;
    this.at = at;
  }

  bytes(src: Uint8Array, from = 0, to = src.length): void {
    const b = this.buf;
    let at = this.at;
    for (let i = from; i < to; i++) b[at++] = src[i]!;
    this.at = at;
  }

  ascii(s: string): void {
    const b = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** An integer of magnitude below 2^53 (anything else as `String(n)`). */
  int(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.ascii(String(n));
      return;
    }
    if (n < 0) {
      this.buf[this.at++] = 0x2d;
      n = -n;
    }
    const b = this.buf;
    if (n === 0) {
      b[this.at++] = 48;
      return;
    }
    let digits = 0;
    if (n <= 0x7fff_ffff) {
      // int32 arithmetic (the INT tag's values, and most others).
      for (let m = n; m > 0; m = (m / 10) | 0) digits++;
      let at = this.at + digits;
      this.at = at;
      for (let m = n; m > 0; m = (m / 10) | 0) b[--at] = 48 + (m % 10);
      return;
    }
    for (let m = n; m > 0; m = Math.floor(m / 10)) digits++;
    let at = this.at + digits;
    this.at = at;
    for (let m = n; m > 0; m = Math.floor(m / 10)) b[--at] = 48 + (m % 10);
  }

  /** UTF-8 `src[from, to)` as JSON string content (escaping `"`, `\` and control characters). */
  escaped(src: Uint8Array, from: number, to: number): void {
    const b = this.buf;
    let at = this.at;
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
    this.at = at;
  }
}

/** The strings a record refers to by ID, as the renderer needs them (undefined: no such string). */
export interface RecordStrings {
  /** The bytes of the bindings interned as `id`. */
  bindings(id: number): Uint8Array | undefined;
  /** The `,"key":` bytes of each key of shape `id`. */
  shape(id: number): readonly Uint8Array[] | undefined;
}

/** Reads the tagged values of a record for the fast path (no bounds surprises: `end` is checked). */
export class FastRenderer {
  #src: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(new ArrayBuffer(0));
  #at = 0;
  #end = 0;
  readonly #args = new Int32Array(256);

  #u32(): number {
    const v = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return v;
  }

  /** The size of the value at `at` (tag included), or -1 when it runs past the end. */
  #skip(at: number): number {
    if (at >= this.#end) return -1;
    const tag = this.#src[at]!;
    let size: number;
    switch (tag) {
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
        if (at + 5 > this.#end) return -1;
        size = 5 + this.#view.getUint32(at + 1, true);
        break;
      default:
        return -1; // STRING_CUT, FLAT (not an argument), unknown
    }
    return at + size <= this.#end ? size : -1;
  }

  /** `null`, `true`, `false` and integers: the same text in JSON and in a `%s`. False for other tags. */
  #literal(out: LineBuffer, tag: number, at: number): boolean {
    if (tag === Tag.INT) out.int(this.#view.getInt32(at + 1, true));
    else if (tag === Tag.NULL) out.piece(NULL_BYTES);
    else if (tag === Tag.TRUE) out.piece(TRUE_BYTES);
    else if (tag === Tag.FALSE) out.piece(FALSE_BYTES);
    else return false;
    return true;
  }

  /** A value as JSON into `out`; false when the fast path does not cover it. */
  #json(out: LineBuffer, at: number): boolean {
    const tag = this.#src[at]!;
    switch (tag) {
      case Tag.NUMBER: {
        const v = this.#view.getFloat64(at + 1, true);
        out.ascii(Number.isFinite(v) ? String(v) : 'null');
        return true;
      }
      case Tag.STRING:
      case Tag.BIGINT: {
        // A BigInt is written as its digits in a string (as pino's safe stringify writes it).
        const n = this.#view.getUint32(at + 1, true);
        out.buf[out.at++] = 0x22;
        out.escaped(this.#src, at + 5, at + 5 + n);
        out.buf[out.at++] = 0x22;
        return true;
      }
      case Tag.JSON:
      case Tag.ERROR: {
        const n = this.#view.getUint32(at + 1, true);
        out.bytes(this.#src, at + 5, at + 5 + n);
        return true;
      }
      default:
        return this.#literal(out, tag, at);
    }
  }

  /** A value as `%s`/`%d`/`%i`/`%f` text inside the message (JSON-escaped); false when not covered. */
  #text(out: LineBuffer, at: number, spec: string): boolean {
    const tag = this.#src[at]!;
    if (spec === 's') {
      if (tag === Tag.STRING) out.escaped(this.#src, at + 5, at + 5 + this.#view.getUint32(at + 1, true));
      else if (tag === Tag.NUMBER) out.ascii(String(this.#view.getFloat64(at + 1, true)));
      else if (tag === Tag.UNDEFINED) out.ascii('undefined');
      else return this.#literal(out, tag, at);
      return true;
    }
    if (tag === Tag.INT) {
      out.int(this.#view.getInt32(at + 1, true));
      return true;
    }
    if (tag === Tag.NUMBER) {
      const v = this.#view.getFloat64(at + 1, true);
      out.ascii(String(spec === 'i' ? Math.floor(v) : v));
      return true;
    }
    return false;
  }

  /**
   * Renders the data of one record (`src[start, end)`, after the head written by the caller):
   * bindings, merging object, `"msg"`, `}\n`. Returns false (leaving `out.at` anywhere: the
   * caller rewinds) when the fast path does not cover it.
   */
  render(out: LineBuffer, src: Uint8Array, view: DataView, start: number, end: number, format: CompiledFormat | undefined, strings: RecordStrings): boolean {
    this.#src = src;
    this.#view = view;
    this.#at = start;
    this.#end = end;
    if (start + 5 > end) return false;
    const flags = src[this.#at++]!;
    if ((flags & RecordFlag.MSG_INLINE) !== 0) return false;
    // (The consumer has written the drop line already.)
    if ((flags & RecordFlag.DROPS) !== 0) {
      if (start + 9 > end) return false;
      this.#at += 4;
    }
    if ((flags & RecordFlag.BINDINGS_ID) !== 0) {
      const bytes = strings.bindings(this.#u32());
      if (bytes === undefined) return false;
      out.ensure(bytes.length);
      out.piece(bytes);
    } else {
      const bindings = this.#u32();
      if (this.#at + bindings > end) return false;
      out.bytes(src, this.#at, this.#at + bindings);
      this.#at += bindings;
    }
    if ((flags & RecordFlag.HAS_OBJECT) !== 0) {
      if (this.#at >= end) return false;
      const tag = src[this.#at]!;
      if (tag === Tag.SHAPED) {
        if (this.#at + 5 > end) return false;
        const keys = strings.shape(view.getUint32(this.#at + 1, true));
        if (keys === undefined) return false;
        this.#at += 5;
        for (let i = 0; i < keys.length; i++) {
          const size = this.#skip(this.#at);
          if (size < 0) return false;
          if (src[this.#at] !== Tag.UNDEFINED) {
            out.ensure(keys[i]!.length);
            out.piece(keys[i]!);
            if (!this.#json(out, this.#at)) return false;
          }
          this.#at += size;
        }
      } else if (tag === Tag.FLAT) {
        if (this.#at + 3 > end) return false;
        const count = view.getUint16(this.#at + 1, true);
        this.#at += 3;
        for (let i = 0; i < count; i++) {
          if (this.#at >= end || src[this.#at] !== Tag.STRING) return false;
          const keySize = this.#skip(this.#at);
          if (keySize < 0) return false;
          const valueAt = this.#at + keySize;
          const valueSize = this.#skip(valueAt);
          if (valueSize < 0) return false;
          if (src[valueAt] !== Tag.UNDEFINED) {
            out.buf[out.at++] = 0x2c; // ,
            this.#json(out, this.#at);
            out.buf[out.at++] = 0x3a; // :
            if (!this.#json(out, valueAt)) return false;
          }
          this.#at = valueAt + valueSize;
        }
      } else if (tag === Tag.JSON) {
        const size = this.#skip(this.#at);
        if (size < 0) return false;
        const n = size - 5;
        const from = this.#at + 5;
        if (n < 2 || src[from] !== 0x7b || src[from + n - 1] !== 0x7d) return false;
        if (n > 2) {
          out.buf[out.at++] = 0x2c;
          out.bytes(src, from + 1, from + n - 1);
        }
        this.#at += size;
      } else {
        return false;
      }
    }
    if (this.#at >= end) return false;
    const argc = src[this.#at++]!;
    const args = this.#args;
    for (let i = 0; i < argc; i++) {
      const size = this.#skip(this.#at);
      if (size < 0) return false;
      args[i] = this.#at;
      this.#at += size;
    }
    if (format !== undefined) {
      if (format.slow) return false;
      // (The caller made room for the record's bytes escaped, not for the format's pieces.)
      out.ensure(format.room);
      out.piece(MSG_OPEN);
      const { pieces, specs } = format;
      out.piece(pieces[0]!);
      for (let k = 0; k < specs.length; k++) {
        if (k < argc) {
          if (!this.#text(out, args[k]!, specs[k]!)) return false;
        } else {
          out.buf[out.at++] = 0x25; // the placeholder stays, as quick-format leaves it
          out.buf[out.at++] = specs.charCodeAt(k);
        }
        out.piece(pieces[k + 1]!);
      }
      out.buf[out.at++] = 0x22;
    }
    out.buf[out.at++] = 0x7d;
    out.buf[out.at++] = 0x0a;
    return true;
  }
}

/**
 * Event schemas in ftrace's terms: the fields of a typed event, where each one sits in the
 * payload, the `format` text the kernel prints for it (`events/<system>/<name>/format`), and the
 * decoding of a payload back to an object. One representation serves both the schemas tracebuf
 * defines ({@link defineEvent}) and those parsed from a kernel's or a trace.dat's format text
 * ({@link parseEventFormat}).
 *
 * @packageDocumentation
 */
import { invalid } from './errors.js';
import { COMMON_PID_OFFSET, COMMON_TYPE_OFFSET, FtraceCommonLayout } from './layout.js';

/** How a field's bytes are read. */
export const FieldKind = {
  /** An integer of 1, 2, 4 or 8 bytes (`signed` says which). */
  INT: 'int',
  /** `bool`: one byte, 0 or 1. */
  BOOL: 'bool',
  /** `char name[N]`: a NUL-padded string of at most N-1 bytes. */
  CHAR: 'char',
  /** A fixed array of another element type: decoded as bytes. */
  ARRAY: 'array',
  /** `__data_loc char[] name`: a dynamic string (u32 `(length << 16) | offset`, length with the NUL). */
  STRING: 'string',
  /** `__data_loc u8[] name` (or any other element type): dynamic bytes. */
  BYTES: 'bytes',
} as const;

/** One of the {@link FieldKind} values. */
export type FieldKindValue = (typeof FieldKind)[keyof typeof FieldKind];

/** One field of an event's payload, as a `format` file lists it. */
export interface EventField {
  /** The field name (`common_*` for the common header). */
  readonly name: string;
  /** The C type as the format prints it before the name (`u32`, `__data_loc char[]`, `char`). */
  readonly type: string;
  /** Byte offset in the payload. */
  readonly offset: number;
  /** Bytes in the payload (4 for a `__data_loc` word). */
  readonly size: number;
  /** Whether an integer field is signed. */
  readonly signed: boolean;
  /** How to read it. */
  readonly kind: FieldKindValue;
  /** For `char name[N]` and other fixed arrays: N. 0 otherwise. */
  readonly arrayLength: number;
}

/** One event's description: what a `format` file holds. */
export interface EventFormat {
  /** The system (directory under `events/`): `tracebuf` for events tracebuf defines. */
  readonly system: string;
  /** The event name. */
  readonly name: string;
  /** The event ID (`common_type` of its records). */
  readonly id: number;
  /** The common fields (the kernel's `struct trace_entry`). */
  readonly commonFields: readonly EventField[];
  /** The event's own fields, in payload order. */
  readonly fields: readonly EventField[];
  /** The `print fmt:` line's text after `print fmt: ` (empty when the format had none). */
  readonly printFmt: string;
}

/**
 * The field types {@link defineEvent} accepts: integers (`u8`..`s64`), `bool`, a fixed string
 * `char[N]` (at most N-1 bytes, NUL-padded), a dynamic string `string` (`__data_loc char[]`) and
 * dynamic bytes `bytes` (`__data_loc u8[]`).
 */
export type FieldSpec =
  | 'u8'
  | 's8'
  | 'u16'
  | 's16'
  | 'u32'
  | 's32'
  | 'u64'
  | 's64'
  | 'bool'
  | 'string'
  | 'bytes'
  | `char[${number}]`;

/** Field names and types, in payload order (an object's own keys keep their order). */
export type FieldSpecs = Readonly<Record<string, FieldSpec>>;

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INT_SPECS: Readonly<Record<string, { size: number; signed: boolean; print: string }>> = {
  u8: { size: 1, signed: false, print: '%u' },
  // libtraceevent does not sign-extend print arguments: %hhd / %hd print negative s8 / s16 right.
  s8: { size: 1, signed: true, print: '%hhd' },
  u16: { size: 2, signed: false, print: '%u' },
  s16: { size: 2, signed: true, print: '%hd' },
  u32: { size: 4, signed: false, print: '%u' },
  s32: { size: 4, signed: true, print: '%d' },
  u64: { size: 8, signed: false, print: '%llu' },
  s64: { size: 8, signed: true, print: '%lld' },
};
/** Largest N of a `char[N]` field. */
export const MAX_CHAR_ARRAY_LENGTH = 4096;
/** The `__data_loc` word: length (with the NUL for strings) in the high 16 bits, offset in the low. */
export const DATA_LOC_MAX_LENGTH = 0xffff;

/** The common fields every typed event starts with, as the kernel's formats print them. */
export const COMMON_FIELDS: readonly EventField[] = FtraceCommonLayout.fields.map((f) => ({
  name: f.name,
  type: f.name === 'common_type' ? 'unsigned short' : f.name === 'common_pid' ? 'int' : 'unsigned char',
  offset: f.offset,
  size: f.length,
  signed: f.name === 'common_pid',
  kind: FieldKind.INT,
  arrayLength: 0,
}));

/** Checks a system or event name (a C identifier, as tracefs directory names are). */
export function checkEventName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.length > 64) {
    invalid(`${what} must be a C identifier of at most 64 characters`, what, name);
  }
  return name;
}

/**
 * Lays the fields out as the kernel's `struct trace_event_raw_<name>` would be: after the common
 * header, each field at the next offset aligned to its natural alignment; dynamic fields are a
 * 4-byte `__data_loc` word here, their bytes go after the fixed part. Returns the fields and the
 * fixed part's length (the struct's `sizeof`). Throws `EINVAL` naming a bad field.
 */
export function layoutFields(specs: FieldSpecs): { fields: EventField[]; fixedLength: number } {
  if (specs === null || typeof specs !== 'object' || Array.isArray(specs)) invalid('fields must be an object of name: type', 'fields', specs);
  let offset = FtraceCommonLayout.length;
  let align = 4;
  const fields: EventField[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (!NAME_PATTERN.test(name) || name.startsWith('common_') || name.length > 64) {
      invalid('a field name must be a C identifier of at most 64 characters, not starting with common_', 'field', name);
    }
    let field: Omit<EventField, 'offset'>;
    const int = typeof spec === 'string' ? INT_SPECS[spec] : undefined;
    const char = typeof spec === 'string' ? /^char\[(\d+)\]$/.exec(spec) : null;
    if (int !== undefined) {
      field = { name, type: spec, size: int.size, signed: int.signed, kind: FieldKind.INT, arrayLength: 0 };
    } else if (spec === 'bool') {
      field = { name, type: 'bool', size: 1, signed: false, kind: FieldKind.BOOL, arrayLength: 0 };
    } else if (spec === 'string') {
      field = { name, type: '__data_loc char[]', size: 4, signed: false, kind: FieldKind.STRING, arrayLength: 0 };
    } else if (spec === 'bytes') {
      field = { name, type: '__data_loc u8[]', size: 4, signed: false, kind: FieldKind.BYTES, arrayLength: 0 };
    } else if (char !== null) {
      const n = Number(char[1]);
      if (n < 1 || n > MAX_CHAR_ARRAY_LENGTH) invalid(`char[N] needs 1 <= N <= ${MAX_CHAR_ARRAY_LENGTH}`, `fields.${name}`, spec);
      field = { name, type: 'char', size: n, signed: false, kind: FieldKind.CHAR, arrayLength: n };
    } else {
      invalid('unknown field type (u8..u64, s8..s64, bool, char[N], string, bytes)', `fields.${name}`, spec);
    }
    const a = field.kind === FieldKind.INT ? field.size : field.kind === FieldKind.STRING || field.kind === FieldKind.BYTES ? 4 : 1;
    align = Math.max(align, a);
    offset = Math.ceil(offset / a) * a;
    fields.push({ ...field, offset });
    offset += field.size;
  }
  if (fields.length === 0) invalid('an event needs at least one field', 'fields', specs);
  return { fields, fixedLength: Math.ceil(offset / align) * align };
}

/** The `print fmt` tracebuf writes for its own events: `a=%u b=%s ...`, read by trace-cmd. */
export function defaultPrintFmt(fields: readonly EventField[]): string {
  const fmt: string[] = [];
  const args: string[] = [];
  for (const f of fields) {
    switch (f.kind) {
      case FieldKind.INT:
        fmt.push(`${f.name}=${INT_SPECS[f.type]?.print ?? (f.signed ? '%lld' : '%llu')}`);
        args.push(`REC->${f.name}`);
        break;
      case FieldKind.BOOL:
        fmt.push(`${f.name}=%d`);
        args.push(`REC->${f.name}`);
        break;
      case FieldKind.CHAR:
        fmt.push(`${f.name}=%s`);
        args.push(`REC->${f.name}`);
        break;
      case FieldKind.STRING:
        fmt.push(`${f.name}=%s`);
        args.push(`__get_str(${f.name})`);
        break;
      default:
        fmt.push(`${f.name}=%s`);
        args.push(`__print_hex(__get_dynamic_array(${f.name}), __get_dynamic_array_len(${f.name}))`);
    }
  }
  return `"${fmt.join(' ')}", ${args.join(', ')}`;
}

function fieldLine(f: EventField): string {
  const decl = f.kind === FieldKind.CHAR || f.kind === FieldKind.ARRAY ? `${f.type} ${f.name}[${f.arrayLength}]` : `${f.type} ${f.name}`;
  return `\tfield:${decl};\toffset:${f.offset};\tsize:${f.size};\tsigned:${f.signed ? 1 : 0};`;
}

/** The `format` text of an event, exactly as tracefs prints `events/<system>/<name>/format`. */
export function formatText(format: EventFormat): string {
  return [
    `name: ${format.name}`,
    `ID: ${format.id}`,
    'format:',
    ...format.commonFields.map(fieldLine),
    '',
    ...format.fields.map(fieldLine),
    '',
    `print fmt: ${format.printFmt}`,
    '',
  ].join('\n');
}

const FIELD_LINE = /^\s*field:(.+?);\s*offset:(\d+);\s*size:(\d+);(?:\s*signed:(-?\d+);)?/;

/**
 * Parses a `format` text (tracefs `events/<system>/<name>/format`, or a trace.dat's event
 * formats) into an {@link EventFormat}. `system` names its system (the text itself does not).
 * Throws `EINVAL` naming the line that does not parse.
 */
export function parseEventFormat(text: string, system: string): EventFormat {
  if (typeof text !== 'string') invalid('format text must be a string', 'text', text);
  const lines = text.split('\n');
  let name: string | undefined;
  let id: number | undefined;
  let printFmt = '';
  const common: EventField[] = [];
  const own: EventField[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('name: ')) name = line.slice(6).trim();
    else if (line.startsWith('ID: ')) id = Number(line.slice(4).trim());
    else if (line.startsWith('print fmt: ')) printFmt = line.slice(11);
    else if (/^\s*field:/.test(line)) {
      const m = FIELD_LINE.exec(line);
      if (m === null) invalid('format text has a field line that does not parse', `line ${i + 1}`, line);
      const field = parseFieldDecl(m[1]!.trim(), Number(m[2]), Number(m[3]), m[4] === undefined ? undefined : m[4] !== '0', i + 1);
      (field.name.startsWith('common_') ? common : own).push(field);
    }
  }
  if (name === undefined || name === '') invalid('format text has no "name:" line', 'text', text.slice(0, 80));
  if (id === undefined || !Number.isInteger(id) || id < 0 || id > 0xffff) invalid('format text has no valid "ID:" line (0..65535)', 'text', text.slice(0, 80));
  const type = common.find((f) => f.name === 'common_type');
  if (type === undefined || type.offset !== COMMON_TYPE_OFFSET || type.size !== 2) {
    invalid('format text has no 2-byte common_type at offset 0', 'event', `${system}:${name}`);
  }
  return { system, name, id, commonFields: common, fields: own, printFmt };
}

/** Parses one `field:` declaration (`unsigned int foo`, `char comm[16]`, `__data_loc char[] msg`). */
function parseFieldDecl(decl: string, offset: number, size: number, signedColumn: boolean | undefined, line: number): EventField {
  const dataLoc = /^__(data|rel)_loc\s+(.+?)\s*\[\]\s+([A-Za-z_][A-Za-z0-9_]*)$/.exec(decl);
  if (dataLoc !== null) {
    if (dataLoc[1] === 'rel') invalid('__rel_loc fields are not supported', `line ${line}`, decl);
    const element = dataLoc[2]!;
    const isChar = /\bchar$/.test(element);
    return {
      name: dataLoc[3]!,
      type: `__data_loc ${element}[]`,
      offset,
      size,
      signed: false,
      kind: isChar ? FieldKind.STRING : FieldKind.BYTES,
      arrayLength: 0,
    };
  }
  const array = /^(.+?)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[(\w*)\]$/.exec(decl);
  if (array !== null) {
    const element = array[1]!;
    const n = Number(array[3]);
    const isChar = /^(signed |unsigned )?char$/.test(element);
    return {
      name: array[2]!,
      type: element,
      offset,
      size,
      signed: false,
      kind: isChar ? FieldKind.CHAR : FieldKind.ARRAY,
      arrayLength: Number.isInteger(n) && n > 0 ? n : size,
    };
  }
  const plain = /^(.*?)\s*\**\s*([A-Za-z_][A-Za-z0-9_]*)$/.exec(decl);
  if (plain === null || plain[1] === '') invalid('format text has a field declaration that does not parse', `line ${line}`, decl);
  const type = plain[1]!;
  const pointer = decl.includes('*');
  if (![1, 2, 4, 8].includes(size)) {
    return { name: plain[2]!, type, offset, size, signed: false, kind: FieldKind.ARRAY, arrayLength: size };
  }
  const signed = signedColumn ?? (!pointer && !/\bunsigned\b|^u\d+$|^bool$|_t$/.test(type));
  return { name: plain[2]!, type: pointer ? `${type} *` : type, offset, size, signed: pointer ? false : signed, kind: type === 'bool' ? FieldKind.BOOL : FieldKind.INT, arrayLength: 0 };
}

/** A decoded event: its format's name and ID, the common header's pid, and its own fields. */
export interface DecodedEvent {
  /** Event ID (`common_type`). */
  readonly id: number;
  /** System name. */
  readonly system: string;
  /** Event name. */
  readonly name: string;
  /** `common_pid`: the writing thread. */
  readonly pid: number;
  /**
   * The event's own fields by name: numbers for integers (bigint for 64-bit values beyond 2^53),
   * booleans, strings for `char[N]` and dynamic strings, `Uint8Array` copies for bytes.
   */
  readonly fields: Record<string, number | bigint | boolean | string | Uint8Array>;
}

const TWO_32 = 4294967296;

function readInt(view: DataView, at: number, size: number, signed: boolean): number | bigint {
  switch (size) {
    case 1:
      return signed ? view.getInt8(at) : view.getUint8(at);
    case 2:
      return signed ? view.getInt16(at, true) : view.getUint16(at, true);
    case 4:
      return signed ? view.getInt32(at, true) : view.getUint32(at, true);
    default: {
      const lo = view.getUint32(at, true);
      const hi = signed ? view.getInt32(at + 4, true) : view.getUint32(at + 4, true);
      const n = hi * TWO_32 + lo;
      if (Number.isSafeInteger(n)) return n;
      return signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
    }
  }
}

/** UTF-8 text of `bytes[at, at + length)` up to the first NUL (shared memory allowed). */
function readText(bytes: Uint8Array, at: number, length: number): string {
  let end = at;
  const stop = at + length;
  while (end < stop && bytes[end] !== 0) end++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + at, end - at).toString('utf8');
}

/**
 * Decodes the payload `bytes[at, at + length)` with `format`. Every offset is checked against
 * the payload: a field or a `__data_loc` that points outside it is `EINVAL` naming the field and
 * the offset (`base` is added to offsets in messages: the payload's place in a file or buffer).
 */
export function decodeWith(format: EventFormat, bytes: Uint8Array, at: number, length: number, base = at): DecodedEvent {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: DecodedEvent['fields'] = {};
  const end = at + length;
  for (const f of format.fields) {
    const p = at + f.offset;
    // A __data_loc is read as its 4-byte word whatever size a (damaged) format declares.
    const need = f.kind === FieldKind.STRING || f.kind === FieldKind.BYTES ? Math.max(4, f.size) : f.size;
    if (p + need > end) {
      invalid(`event ${format.system}:${format.name} field ${f.name} runs past the record (${length} bytes)`, 'offset', base + f.offset);
    }
    switch (f.kind) {
      case FieldKind.INT:
        fields[f.name] = readInt(view, p, f.size, f.signed);
        break;
      case FieldKind.BOOL:
        fields[f.name] = bytes[p] !== 0;
        break;
      case FieldKind.CHAR:
        fields[f.name] = readText(bytes, p, f.size);
        break;
      case FieldKind.ARRAY:
        fields[f.name] = bytes.slice(p, p + f.size);
        break;
      default: {
        const loc = view.getUint32(p, true);
        const off = loc & 0xffff;
        const len = loc >>> 16;
        if (at + off + len > end || (len > 0 && off < FtraceCommonLayout.length)) {
          invalid(
            `event ${format.system}:${format.name} field ${f.name} has a __data_loc (offset ${off}, length ${len}) outside the record (${length} bytes)`,
            'offset',
            base + f.offset,
          );
        }
        fields[f.name] = f.kind === FieldKind.STRING ? readText(bytes, at + off, len) : bytes.slice(at + off, at + off + len);
      }
    }
  }
  return { id: format.id, system: format.system, name: format.name, pid: view.getInt32(at + COMMON_PID_OFFSET, true), fields };
}

/** Renders a decoded field value as trace-cmd prints it with tracebuf's `print fmt`. */
export function fieldText(value: DecodedEvent['fields'][string]): string {
  if (value instanceof Uint8Array) {
    let s = '';
    for (let i = 0; i < value.length; i++) s += (i === 0 ? '' : ' ') + value[i]!.toString(16).padStart(2, '0');
    return s;
  }
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

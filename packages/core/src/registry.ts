/**
 * Typed events: {@link defineEvent} compiles a schema to a writer that allocates nothing per
 * event, and the {@link EventRegistry} — one SharedArrayBuffer per buffer, in its handle — gives
 * every thread of the buffer the same event IDs, so a consumer decodes records by ID without
 * being told the schemas.
 *
 * @packageDocumentation
 */
import { readlinkSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
import { relax } from './cpu-buffer.js';
import { endianness } from 'node:os';
import { ErrorCode, TraceBufferError, invalid, showValue } from './errors.js';
import {
  COMMON_PID_OFFSET,
  COMMON_TYPE_OFFSET,
  EVENT_ID_BASE,
  EVENT_REGISTRY_LENGTH,
  FTRACE_COMMON_LENGTH,
  REGISTRY_CAPACITY_INDEX,
  REGISTRY_COUNT_INDEX,
  REGISTRY_ENTRIES_OFFSET,
  REGISTRY_LOCK_INDEX,
  REGISTRY_USED_INDEX,
} from './layout.js';
import type { Producer } from './producer.js';
import {
  COMMON_FIELDS,
  DATA_LOC_MAX_LENGTH,
  type DecodedEvent,
  type EventField,
  type EventFormat,
  FieldKind,
  type FieldSpec,
  type FieldSpecs,
  checkEventName,
  decodeWith,
  defaultPrintFmt,
  layoutFields,
} from './schema.js';

/** Whole-word stores below assume the Int32Array byte order is the event format's. */
const LITTLE_ENDIAN = endianness() === 'LE';

/** The system tracebuf's own events belong to (the directory name under `events/`). */
export const DEFAULT_EVENT_SYSTEM = 'tracebuf';

/** This thread's id as `common_pid`: its Linux thread id, or the worker threadId without /proc. */
export const THREAD_PID: number = (() => {
  try {
    const m = /\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    if (m !== null) return Number(m[1]);
  } catch {
    /* no /proc: fall back to the worker threadId */
  }
  return isMainThread ? process.pid : threadId;
})();

/** This thread's name in trace.dat's saved cmdlines (`comm`). */
export const THREAD_COMM: string = isMainThread ? 'main' : `worker-${threadId}`;

/** One registry entry as stored (UTF-8 JSON). */
type Entry =
  | { readonly kind: 'event'; readonly id: number; readonly system: string; readonly name: string; readonly fields: [string, FieldSpec][]; readonly printFmt: string }
  | { readonly kind: 'thread'; readonly pid: number; readonly comm: string };

/**
 * A buffer's shared schema registry. `tb.events` is the registry of buffer `tb` in this thread;
 * formats registered in any thread of the buffer are seen here.
 */
export class EventRegistry {
  /** The shared memory (it travels in the buffer's handle). */
  readonly sab: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #u8: Uint8Array;
  #seen = 0;
  #seenBytes = 0;
  readonly #byId = new Map<number, EventFormat & { readonly specs: readonly [string, FieldSpec][] }>();
  readonly #byName = new Map<string, number>();
  readonly #threads = new Map<number, string>();
  #threadNoted = false;

  constructor(sab: SharedArrayBuffer) {
    const i32 = new Int32Array(sab);
    if (sab.byteLength < REGISTRY_ENTRIES_OFFSET || i32[REGISTRY_CAPACITY_INDEX] !== sab.byteLength - REGISTRY_ENTRIES_OFFSET) {
      invalid('not a tracebuf event registry', 'registry', sab);
    }
    this.sab = sab;
    this.#i32 = i32;
    this.#u8 = new Uint8Array(sab);
  }

  /** Allocates an empty registry of `length` bytes (header included). */
  static allocate(length = EVENT_REGISTRY_LENGTH): SharedArrayBuffer {
    const sab = new SharedArrayBuffer(length);
    new Int32Array(sab)[REGISTRY_CAPACITY_INDEX] = length - REGISTRY_ENTRIES_OFFSET;
    return sab;
  }

  /** Reads entries other threads published since the last look. */
  #refresh(): void {
    const count = Atomics.load(this.#i32, REGISTRY_COUNT_INDEX);
    while (this.#seen < count) {
      const at = REGISTRY_ENTRIES_OFFSET + this.#seenBytes;
      const length = new DataView(this.sab).getUint32(at, true);
      const entry = JSON.parse(Buffer.from(this.sab, at + 4, length).toString('utf8')) as Entry;
      this.#seenBytes += 4 + Math.ceil(length / 4) * 4;
      this.#seen++;
      if (entry.kind === 'thread') {
        this.#threads.set(entry.pid, entry.comm);
        continue;
      }
      const { fields } = layoutFields(Object.fromEntries(entry.fields) as FieldSpecs);
      const format = { system: entry.system, name: entry.name, id: entry.id, commonFields: COMMON_FIELDS, fields, printFmt: entry.printFmt, specs: entry.fields };
      this.#byId.set(entry.id, format);
      this.#byName.set(`${entry.system}:${entry.name}`, entry.id);
    }
  }

  /** Appends `make(nextEventId)` under the lock unless `exists()` finds it already there. */
  #append<T>(exists: () => T | undefined, make: (nextId: number) => Entry): T | undefined {
    // Held for the few µs of an append; a holder that died there makes relax() give up (EFAULT).
    for (let round = 0, since = 0; Atomics.compareExchange(this.#i32, REGISTRY_LOCK_INDEX, 0, 1) !== 0; round++) {
      since = relax(round, since, 'the event registry lock', 'a thread registering an event');
    }
    try {
      this.#refresh();
      const found = exists();
      if (found !== undefined) return found;
      const entry = make(EVENT_ID_BASE + this.#byId.size);
      const text = Buffer.from(JSON.stringify(entry), 'utf8');
      const used = this.#i32[REGISTRY_USED_INDEX]!;
      const room = Math.ceil(text.length / 4) * 4 + 4;
      if (used + room > this.#i32[REGISTRY_CAPACITY_INDEX]!) {
        throw new TraceBufferError(ErrorCode.ENOSPC, `the event registry is full: ${showValue('capacity', this.#i32[REGISTRY_CAPACITY_INDEX])}`);
      }
      const at = REGISTRY_ENTRIES_OFFSET + used;
      new DataView(this.sab).setUint32(at, text.length, true);
      this.#u8.set(text, at + 4);
      this.#i32[REGISTRY_USED_INDEX] = used + room;
      // Publishes the entry written above (readers load count first).
      Atomics.add(this.#i32, REGISTRY_COUNT_INDEX, 1);
      this.#refresh();
      return undefined;
    } finally {
      Atomics.store(this.#i32, REGISTRY_LOCK_INDEX, 0);
    }
  }

  /**
   * Registers `event` (idempotent: the same system, name and fields give the same ID in every
   * thread) and returns its format. `EEXIST` when the name is registered with other fields,
   * `ENOSPC` when the registry is full.
   */
  register(event: TypedEvent): EventFormat {
    const key = `${event.system}:${event.name}`;
    const same = (): EventFormat | undefined => {
      const id = this.#byName.get(key);
      if (id === undefined) return undefined;
      const known = this.#byId.get(id)!;
      if (JSON.stringify(known.specs) !== JSON.stringify(event.specs) || known.printFmt !== event.printFmt) {
        throw new TraceBufferError(ErrorCode.EEXIST, `event ${key} is registered with other fields: ${showValue('id', id)}`);
      }
      return known;
    };
    this.#refresh();
    const found = same() ?? this.#append(same, (id) => ({ kind: 'event', id, system: event.system, name: event.name, fields: [...event.specs], printFmt: event.printFmt }));
    return found ?? same()!;
  }

  /** Records this thread's pid and name once (for trace.dat's saved cmdlines). */
  noteThread(): void {
    if (this.#threadNoted) return;
    this.#refresh();
    if (!this.#threads.has(THREAD_PID)) {
      this.#append(
        () => (this.#threads.has(THREAD_PID) ? true : undefined),
        () => ({ kind: 'thread', pid: THREAD_PID, comm: THREAD_COMM }),
      );
    }
    this.#threadNoted = true;
  }

  /** Every registered format, by ID. */
  formats(): EventFormat[] {
    this.#refresh();
    return [...this.#byId.values()].map(({ specs: _specs, ...format }) => format);
  }

  /** The format of event `id`, or undefined. */
  format(id: number): EventFormat | undefined {
    let f = this.#byId.get(id);
    if (f === undefined) {
      this.#refresh();
      f = this.#byId.get(id);
    }
    return f;
  }

  /** Threads that wrote typed events: pid → name. */
  threads(): ReadonlyMap<number, string> {
    this.#refresh();
    return this.#threads;
  }

  /**
   * Decodes one typed event's payload (`payload[at, at + length)`, by default all of it).
   * `EINVAL` naming the offset for a record shorter than the common header, an unknown event
   * ID, or a field outside the record.
   */
  decode(payload: Uint8Array, at = 0, length = payload.length - at, base = at): DecodedEvent {
    if (length < FTRACE_COMMON_LENGTH) invalid(`a typed event is at least ${FTRACE_COMMON_LENGTH} bytes`, 'length', length);
    const id = payload[at + COMMON_TYPE_OFFSET]! | (payload[at + COMMON_TYPE_OFFSET + 1]! << 8);
    const format = this.format(id);
    if (format === undefined) invalid(`unknown event id ${id}`, 'offset', base + COMMON_TYPE_OFFSET);
    return decodeWith(format, payload, at, length, base);
  }
}

/** Values of one event's fields (for {@link TypedEvent.emit}). */
export type FieldValues<F extends FieldSpecs> = {
  readonly [K in keyof F]: F[K] extends 'u64' | 's64'
    ? number | bigint
    : F[K] extends 'bool'
      ? boolean
      : F[K] extends 'string' | `char[${number}]`
        ? string
        : F[K] extends 'bytes'
          ? Uint8Array
          : number;
};

/** Options of {@link defineEvent}. */
export interface DefineEventOptions {
  /** The system (trace-cmd prints `system:name` groups). Default `tracebuf`. */
  readonly system?: string;
  /** The `print fmt` (after `print fmt: `). Default `"a=%u b=%s", REC->a, __get_str(b)`. */
  readonly printFmt?: string;
}

/** The writer `defineEvent` compiles: `(producer, ...values in field order) => committed`. */
export type EventWriter = (p: Producer, ...values: unknown[]) => boolean;

/** Strings up to this many UTF-16 units are scanned and copied in JS; longer ones go through Buffer. */
const JS_STRING_MAX = 64;

/** Up to this many UTF-16 units a JS scan counts UTF-8 bytes faster than Buffer's native count. */
const JS_SCAN_MAX = 8;

/** UTF-8 length of `s` (an ASCII scan in JS for very short strings; Buffer's native count above). */
function utf8Length(s: string): number {
  const n = s.length;
  if (n > JS_SCAN_MAX) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return n;
}

/** Per-memory Buffer views for the UTF-8 writes (one per data memory, built when it changes). */
const bufferOf = new WeakMap<Uint8Array, Buffer>();

function bufferView(u8: Uint8Array): Buffer {
  let b = bufferOf.get(u8);
  if (b === undefined) {
    b = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    bufferOf.set(u8, b);
  }
  return b;
}

/**
 * Writes the `length` UTF-8 bytes of `s` at `at` (the length utf8Length gave) and a NUL after
 * them. A short ASCII string goes in whole little-endian words where `at` is aligned (`w` is the
 * same memory as `u8`); anything else through Buffer#write.
 */
function writeUtf8Z(w: Int32Array, u8: Uint8Array, at: number, s: string, length: number): void {
  if (length === s.length && length <= JS_STRING_MAX) {
    let i = 0;
    if ((at & 3) === 0 && LITTLE_ENDIAN) {
      for (const whole = length & ~3; i < whole; i += 4) {
        w[(at + i) >> 2] = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
      }
    }
    for (; i < length; i++) u8[at + i] = s.charCodeAt(i);
  } else {
    bufferView(u8).write(s, at, length, 'utf8');
  }
  u8[at + length] = 0;
}

/** Writes `s` (`length` UTF-8 bytes) into a `char[size]` field: at most size-1 bytes, NUL-padded. */
function writeChars(w: Int32Array, u8: Uint8Array, at: number, s: string, size: number, length: number): void {
  if (length < size) {
    writeUtf8Z(w, u8, at, s, length);
    // (A loop: TypedArray#fill's fixed cost is larger than a few byte stores.)
    for (let i = at + length + 1; i < at + size; i++) u8[i] = 0;
    return;
  }
  // Too long: cut at a character boundary (Buffer#write writes no partial character).
  u8.fill(0, at, at + size);
  bufferView(u8).write(s, at, size - 1, 'utf8');
}

/** Bytes of a string field's scratch: strings up to this long (NUL included) are copied from it. */
const STRING_SCRATCH_LENGTH = 256;

/** Encodes `s` (at most the scratch's length with its NUL) into a string field's scratch: NUL, then zeros to a word. */
function encodeString(w: Int32Array, u8: Uint8Array, s: string): void {
  const length = utf8Length(s) + 1;
  writeUtf8Z(w, u8, 0, s, length - 1);
  for (let i = length; i < Math.min(u8.length, (length + 3) & ~3); i++) u8[i] = 0;
}

/** Encodes `s` into a `char[size]` field's scratch: at most size-1 bytes, NUL-padded. */
function encodeChars(w: Int32Array, u8: Uint8Array, s: string, size: number): void {
  u8.fill(0);
  writeChars(w, u8, 0, s, size, utf8Length(s));
}

function badValue(event: string, field: EventField, value: unknown): never {
  invalid(`event ${event} field ${field.name} (${field.type}) got a value of the wrong type`, field.name, value);
}

function tooLong(event: string, field: EventField, length: number): never {
  invalid(`event ${event} field ${field.name} is longer than a __data_loc can say (${DATA_LOC_MAX_LENGTH} bytes)`, `${field.name}.length`, length);
}

/**
 * Builds the writer's source: one statement per field, the dynamic lengths first (so the
 * reservation has the final size), then the stores into the reserved payload, then the commit.
 * Generated so that the per-event work is straight-line code with no loop over the schema and
 * no allocation.
 */
function writerSource(fields: readonly EventField[], fixedLength: number): string {
  const args = fields.map((_, i) => `a${i}`);
  const state: string[] = [];
  const pre: string[] = [];
  const put: string[] = [];
  let length = `${fixedLength}`;
  for (const [i, f] of fields.entries()) {
    const a = `a${i}`;
    const o = `o + ${f.offset}`;
    const bad = `badValue(NAME, F[${i}], ${a})`;
    switch (f.kind) {
      case FieldKind.INT:
        if (f.size === 8) {
          pre.push(`if (typeof ${a} !== 'number' && typeof ${a} !== 'bigint') ${bad};`);
          put.push(
            `if (typeof ${a} === 'bigint') v.${f.signed ? 'setBigInt64' : 'setBigUint64'}(${o}, ${a}, true);`,
            `else { const hi = Math.floor(${a} / 4294967296); v.setUint32(${o}, ${a} - hi * 4294967296, true); v.setInt32(${o} + 4, hi | 0, true); }`,
          );
        } else {
          pre.push(`if (typeof ${a} !== 'number') ${bad};`);
          const setter = { 1: 'setUint8', 2: 'setUint16', 4: 'setUint32' }[f.size as 1 | 2 | 4];
          // A 4-byte field is 4-aligned in the payload, and the payload in memory: one word store.
          put.push(f.size === 1 ? `u8[${o}] = ${a};` : f.size === 4 && LITTLE_ENDIAN ? `w[(${o}) >> 2] = ${a};` : `v.${setter}(${o}, ${a}, true);`);
        }
        break;
      case FieldKind.BOOL:
        pre.push(`if (typeof ${a} !== 'boolean') ${bad};`);
        put.push(`u8[${o}] = ${a} ? 1 : 0;`);
        break;
      case FieldKind.CHAR: {
        // The field's bytes for the last string seen, NUL-padded, kept in a scratch of whole
        // words: a repeated string costs a few word copies.
        const words = Math.ceil(f.size / 4);
        state.push(`let last${i} = '';`, `const sc${i} = new Uint8Array(${words * 4});`, `const sw${i} = new Int32Array(sc${i}.buffer);`);
        pre.push(`if (typeof ${a} !== 'string') ${bad};`, `if (${a} !== last${i}) { encodeChars(sw${i}, sc${i}, ${a}, ${f.size}); last${i} = ${a}; }`);
        // Whole words only where the field is 4-aligned (the overshoot up to a word stays inside
        // the fixed part, and later fields are written after it).
        put.push(f.offset % 4 === 0 && LITTLE_ENDIAN ? `for (let k = 0; k < ${words}; k++) w[((${o}) >> 2) + k] = sw${i}[k];` : `for (let k = 0; k < ${f.size}; k++) u8[${o} + k] = sc${i}[k];`);
        break;
      }
      case FieldKind.STRING:
        // The last string's UTF-8 bytes and NUL, kept in a scratch of whole words (log messages
        // repeat): its length is known and the copy is a few word stores. Longer strings go
        // straight to the ring.
        // A new string is written straight to the ring; the scratch is filled when the same
        // string comes a second time in a row.
        state.push(`let last${i} = '';`, `let lastN${i} = 1;`, `let ok${i} = true;`, `const sc${i} = new Uint8Array(${STRING_SCRATCH_LENGTH});`, `const sw${i} = new Int32Array(sc${i}.buffer);`);
        pre.push(
          `if (typeof ${a} !== 'string') ${bad};`,
          `if (${a} !== last${i}) { lastN${i} = utf8Length(${a}) + 1; last${i} = ${a}; ok${i} = false; }`,
          `else if (!ok${i} && lastN${i} <= ${STRING_SCRATCH_LENGTH}) { encodeString(sw${i}, sc${i}, ${a}); ok${i} = true; }`,
          `const n${i} = lastN${i};`,
          `if (n${i} > ${DATA_LOC_MAX_LENGTH}) tooLong(NAME, F[${i}], n${i});`,
        );
        put.push(
          `v.setUint32(${o}, (n${i} << 16) | d, true);`,
          `if (ok${i}) {`,
          // Whole words where the data starts aligned: the overshoot (up to 3 bytes of zeros) is
          // overwritten by the next dynamic field or lands in the event's own padding.
          LITTLE_ENDIAN
            ? `  if (((o + d) & 3) === 0) { for (let k = 0, e = (n${i} + 3) >> 2; k < e; k++) w[((o + d) >> 2) + k] = sw${i}[k]; } else for (let k = 0; k < n${i}; k++) u8[o + d + k] = sc${i}[k];`
            : `  for (let k = 0; k < n${i}; k++) u8[o + d + k] = sc${i}[k];`,
          `} else writeUtf8Z(w, u8, o + d, ${a}, n${i} - 1);`,
          `d += n${i};`,
        );
        length += ` + n${i}`;
        break;
      default:
        pre.push(`if (!(${a} instanceof Uint8Array)) ${bad};`, `const n${i} = ${a}.length;`, `if (n${i} > ${DATA_LOC_MAX_LENGTH}) tooLong(NAME, F[${i}], n${i});`);
        // Short arrays by a loop: TypedArray#set's fixed cost is larger than a few byte stores.
        put.push(`v.setUint32(${o}, (n${i} << 16) | d, true);`, `if (n${i} <= 16) { for (let k = 0; k < n${i}; k++) u8[o + d + k] = ${a}[k]; } else u8.set(${a}, o + d);`, `d += n${i};`)
        length += ` + n${i}`;
    }
  }
  return [
    ...state,
    'let boundProducer;',
    'let boundId = 0;',
    `return function write(p, ${args.join(', ')}) {`,
    ...pre,
    'let id = boundId;',
    'if (p !== boundProducer) {',
    '  id = bind(p);',
    '  boundProducer = p;',
    '  boundId = id;',
    '}',
    `const r = p.reserve(${length});`,
    'if (r === null) return false;',
    'const o = r.offset, v = r.view, u8 = r.bytes, w = r.words;',
    // common_type, common_flags (0), common_preempt_count (0) as one word; then common_pid.
    LITTLE_ENDIAN ? `w[(o + ${COMMON_TYPE_OFFSET}) >> 2] = id;` : `v.setUint32(o + ${COMMON_TYPE_OFFSET}, id, true);`,
    LITTLE_ENDIAN ? `w[(o + ${COMMON_PID_OFFSET}) >> 2] = PID;` : `v.setInt32(o + ${COMMON_PID_OFFSET}, PID, true);`,
    `let d = ${fixedLength};`,
    ...put,
    'return p.commit();',
    '};',
  ].join('\n');
}

/**
 * A typed event: a schema compiled to an allocation-free writer. Define it once (module level is
 * fine: it is not tied to a buffer); its ID in a buffer is registered at its first write there
 * (or by `tb.defineEvent`), the same in every thread.
 *
 * ```ts
 * const Request = defineEvent('request', { id: 'u32', status: 'u16', path: 'string' });
 * Request.write(producer, 7, 200, '/index.html');     // positional, in field order
 * ```
 */
export class TypedEvent<F extends FieldSpecs = FieldSpecs> {
  /** Event name. */
  readonly name: string;
  /** System name. */
  readonly system: string;
  /** The fields after the common header, laid out as the kernel would. */
  readonly fields: readonly EventField[];
  /** The fixed part's length (the struct's sizeof): the payload of an event without dynamic data. */
  readonly fixedLength: number;
  /** The `print fmt` text. */
  readonly printFmt: string;
  /** The field specs in order (what the registry stores). */
  readonly specs: readonly [string, FieldSpec][];
  /**
   * Writes one event: `write(producer, ...values)` with one value per field, in the order the
   * fields were declared. Returns what `producer.commit()` returns (false: dropped). Allocates
   * nothing. `EINVAL` (nothing written) for a value of the wrong type, a dynamic field over
   * 65535 bytes, or an event larger than the producer's `maxPayload`.
   */
  readonly write: EventWriter;
  /** This event's ID in each producer's buffer, once registered there. */
  readonly #bound = new WeakMap<Producer, number>();

  constructor(name: string, specs: F, options: DefineEventOptions = {}) {
    this.name = checkEventName('name', name);
    this.system = checkEventName('system', options.system ?? DEFAULT_EVENT_SYSTEM);
    const { fields, fixedLength } = layoutFields(specs);
    this.fields = fields;
    this.fixedLength = fixedLength;
    this.specs = Object.entries(specs);
    if (options.printFmt !== undefined && (typeof options.printFmt !== 'string' || options.printFmt.includes('\n'))) {
      invalid('printFmt must be one line of text', 'printFmt', options.printFmt);
    }
    this.printFmt = options.printFmt ?? defaultPrintFmt(fields);
    const bind = (p: Producer): number => {
      let id = this.#bound.get(p);
      if (id === undefined) {
        id = this.registerIn(p.events);
        p.events.noteThread();
        this.#bound.set(p, id);
      }
      return id;
    };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the compiled writer (see writerSource)
    const compile = new Function('NAME', 'F', 'PID', 'bind', 'badValue', 'tooLong', 'utf8Length', 'encodeString', 'encodeChars', 'writeUtf8Z', writerSource(fields, fixedLength));
    this.write = compile(`${this.system}:${this.name}`, fields, THREAD_PID, bind, badValue, tooLong, utf8Length, encodeString, encodeChars, writeUtf8Z) as EventWriter;
  }

  /** Registers the event in `registry` (idempotent) and returns its ID there. */
  registerIn(registry: EventRegistry): number {
    return registry.register(this).id;
  }

  /** Writes one event from an object of field values (convenient; `write` allocates nothing). */
  emit(p: Producer, values: FieldValues<F>): boolean {
    const v = values as Record<string, unknown>;
    switch (this.specs.length) {
      case 1:
        return this.write(p, v[this.specs[0]![0]]);
      case 2:
        return this.write(p, v[this.specs[0]![0]], v[this.specs[1]![0]]);
      default:
        return this.write(p, ...this.specs.map(([name]) => v[name]));
    }
  }

  toString(): string {
    return `TypedEvent(${showValue('name', `${this.system}:${this.name}`)} fields=${this.fields.length})`;
  }
}

/**
 * Compiles an event schema: `name`, then its fields in order (`{ seq: 'u32', msg: 'string' }`).
 * Field types: `u8`..`u64`, `s8`..`s64`, `bool`, `char[N]`, `string` (ftrace `__data_loc
 * char[]`), `bytes` (`__data_loc u8[]`). Every event starts with the ftrace common fields
 * (`common_type` = its ID, `common_pid` = the writing thread). `EINVAL` for a bad name or field.
 */
export function defineEvent<const F extends FieldSpecs>(name: string, fields: F, options?: DefineEventOptions): TypedEvent<F> {
  return new TypedEvent(name, fields, options);
}

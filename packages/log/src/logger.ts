/**
 * The producer side: a logger with pino's shape whose calls store a binary record in this
 * thread's ring of a tracebuf buffer; a consumer thread formats them (consumer.ts).
 *
 * @packageDocumentation
 */
import { endianness } from 'node:os';
import { NO_STRING, type Producer, THREAD_PID, type TraceBuffer, TraceBufferError, layout } from '@tracebuf/core';
import { ENCODER_SLACK, Encoder, LogEvent, MSG_NONE, RecordFlag, type ShapeCache, fieldJson, putU32, safeJson } from './record.js';

/** common_pid of this thread's records. */
const pid = THREAD_PID;

/** Whether words are stored little-endian here (the trace format's byte order). */
const LITTLE_ENDIAN = endianness() === 'LE';

/** Where the record's data starts in the event's payload (after the fixed fields). */
const DATA_OFFSET = LogEvent.fixedLength;
{
  // The header stores of ThreadSink.write assume this layout: the level's word, msg, the data's
  // __data_loc, then the data, each 4-aligned.
  const [level, msg, data] = LogEvent.fields;
  if (level!.offset !== 8 || msg!.offset !== 12 || data!.offset !== 16 || DATA_OFFSET !== 20 || layout.COMMON_PID_OFFSET !== 4) {
    throw new Error('tracebuf:log event layout changed: update ThreadSink.write');
  }
}

/** What a thread's sink knows of one message format: its string-table ID and its objects' keys. */
interface Statement extends ShapeCache {
  /** The message's ID, or {@link MSG_NONE} when it could not be interned (it is stored inline). */
  readonly msgId: number;
}

/** Message formats one thread remembers (past it, a new one is looked up in the string table). */
const STATEMENT_CACHE_LIMIT = 4096;
/**
 * Loggers' bindings one thread interns at most: a `child()` made per request would otherwise fill
 * the buffer's string table (shared by every thread, for message formats too). Past it, records
 * carry the bindings' bytes.
 */
const BINDINGS_INTERN_LIMIT = 1024;
/** A logger's bindings are interned at its second record (one that logs once never is). */
const RECORDS_BEFORE_INTERN = 2;

/** pino's levels. */
export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
/** A level name. */
export type LevelName = keyof typeof LEVELS;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Least level written (`'silent'`: none). Default `'info'`. */
  readonly level?: LevelName | 'silent';
  /** Becomes the `name` field of every line (as pino's `name`). */
  readonly name?: string;
  /** Fields of every line of this logger (as `child(bindings)`). */
  readonly bindings?: Readonly<Record<string, unknown>>;
  /**
   * The cpu slot this thread's records go to (default: a free one, claimed at creation; when
   * every slot is claimed the buffer brings another online, up to its `maxCpus`).
   */
  readonly cpu?: number;
}

/** A log method: `(obj?, msg?, ...args)`, as pino's. */
export interface LogFn {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

/** What the loggers of one thread and one buffer share: the producer, the scratch, the IDs. */
class ThreadSink {
  readonly producer: Producer;
  readonly encoder: Encoder;
  readonly eventId: number;
  readonly strings: TraceBuffer['strings'];
  readonly maxData: number;
  readonly intern: (s: string) => number;
  readonly #statements = new Map<string, Statement>();
  /** The statement of calls without a message. */
  readonly #noMsg: Statement = { msgId: MSG_NONE, keys: undefined, id: 0 };
  #lastMsg: string | undefined;
  #last: Statement = this.#noMsg;
  #bindingsInterned = 0;
  /**
   * Records the ring refused (full in producer/consumer mode, recording off) since the last one
   * it took: the next record carries the count (DROPS), and the consumer writes a line saying so.
   */
  #unreported = 0;

  constructor(tb: TraceBuffer, cpu: number | undefined) {
    this.producer = tb.threadProducer(cpu);
    this.eventId = LogEvent.registerIn(tb.events);
    tb.events.noteThread();
    this.strings = tb.strings;
    this.maxData = Math.min(0xffff, this.producer.maxPayload - DATA_OFFSET);
    this.encoder = new Encoder(this.maxData + 64);
    this.encoder.room = this.maxData - ENCODER_SLACK;
    this.intern = (text) => this.strings.intern(text);
  }

  /** The string-table ID for a logger's bindings, or NO_STRING past {@link BINDINGS_INTERN_LIMIT}. */
  internBindings(text: string): number {
    if (text === '' || this.#bindingsInterned >= BINDINGS_INTERN_LIMIT) return NO_STRING;
    const id = this.strings.intern(text);
    if (id !== NO_STRING) this.#bindingsInterned++;
    return id;
  }

  /** The statement of message `msg` (the last one is checked first: loops log the same line). */
  #statement(msg: string): Statement {
    if (msg === this.#lastMsg) return this.#last;
    let st = this.#statements.get(msg);
    if (st === undefined) {
      const id = this.strings.intern(msg);
      st = { msgId: id === NO_STRING ? MSG_NONE : id, keys: undefined, id: 0 };
      if (this.#statements.size < STATEMENT_CACHE_LIMIT) this.#statements.set(msg, st);
    }
    this.#lastMsg = msg;
    this.#last = st;
    return st;
  }

  /** Stores one record. Returns false when the ring dropped it (counted by the buffer). */
  write(level: number, bindings: Uint8Array, bindingsId: number, obj: object | undefined, msg: unknown, args: ArrayLike<unknown>, argStart: number, argEnd: number): boolean {
    const e = this.encoder;
    e.at = 0;
    let st = this.#noMsg;
    let flags = 0;
    if (typeof msg === 'string') {
      flags |= RecordFlag.HAS_MSG;
      st = this.#statement(msg);
      if (st.msgId === MSG_NONE) flags |= RecordFlag.MSG_INLINE;
    } else if (msg !== undefined) {
      // Any other message stays what it is in the line (a number, a boolean, null, an object's
      // JSON), as pino writes it; final text (InlineText) is stored inline as a string.
      flags |= RecordFlag.HAS_MSG | RecordFlag.MSG_INLINE;
      if (msg instanceof InlineText) msg = msg.text;
    }
    if (obj !== undefined) flags |= RecordFlag.HAS_OBJECT;
    const unreported = this.#unreported;
    if (unreported !== 0) flags |= RecordFlag.DROPS;
    if (bindingsId !== NO_STRING) flags |= RecordFlag.BINDINGS_ID;
    // The header bytes by plain stores (a DataView call per field costs more).
    const b = e.bytes;
    b[0] = flags;
    let at = 1;
    if (unreported !== 0) {
      putU32(b, at, unreported);
      at += 4;
    }
    if (bindingsId !== NO_STRING) {
      putU32(b, at, bindingsId);
      e.at = at + 4;
    } else {
      putU32(b, at, bindings.length);
      e.at = at + 4;
      e.raw(bindings);
    }
    if ((flags & RecordFlag.MSG_INLINE) !== 0) e.value(msg);
    if (obj !== undefined) e.object(obj, st, this.intern);
    const msgId = st.msgId;
    const argc = argEnd > argStart ? argEnd - argStart : 0;
    e.u8(argc < 255 ? argc : 255);
    for (let i = argStart; i < argEnd && i - argStart < 255; i++) e.value(args[i]);
    const n = e.at;
    const p = this.producer;
    const r = p.reserve(DATA_OFFSET + n);
    if (r === null) {
      this.#unreported++;
      return false;
    }
    const o = r.offset;
    const w = r.words;
    // common_type | flags 0 | preempt 0, then common_pid (the event's common header); the level
    // byte's word (level, then three bytes of padding); msg; the data's __data_loc. As words on
    // little-endian machines (the trace format's byte order), field by field elsewhere.
    const head = o >> 2;
    if (LITTLE_ENDIAN) {
      w[head] = this.eventId;
      w[head + 1] = pid;
      w[head + 2] = level;
      w[head + 3] = msgId;
      w[head + 4] = (n << 16) | DATA_OFFSET;
    } else {
      const v = r.view;
      v.setUint32(o, this.eventId, true);
      v.setInt32(o + 4, pid, true);
      v.setUint32(o + 8, level, true);
      v.setUint32(o + 12, msgId, true);
      v.setUint32(o + 16, (n << 16) | DATA_OFFSET, true);
    }
    // The data as whole words (the payload and the data offset are 4-aligned; the event is
    // padded to 4, so the last word stays inside it).
    const src = e.words;
    const base = head + (DATA_OFFSET >> 2);
    for (let i = 0, end = (n + 3) >> 2; i < end; i++) w[base + i] = src[i]!;
    if (!p.commit()) {
      this.#unreported++;
      return false;
    }
    this.#unreported = 0;
    return true;
  }
}

/** Sinks per buffer in this thread (one producer per thread and buffer). */
const sinks = new WeakMap<TraceBuffer, ThreadSink>();

function sinkFor(tb: TraceBuffer, cpu: number | undefined): ThreadSink {
  let sink = sinks.get(tb);
  if (sink === undefined || sink.producer.released) {
    // The thread's producer of the buffer (shared with other libraries; given back at exit).
    sink = new ThreadSink(tb, cpu);
    sinks.set(tb, sink);
  }
  return sink;
}

/** Pre-serializes bindings as pino does for `child()`: `,"k":v` members, each field as pino writes it. */
function serializeBindings(bindings: Readonly<Record<string, unknown>> | undefined): string {
  if (bindings === undefined) return '';
  let out = '';
  for (const [k, v] of Object.entries(bindings)) {
    const text = fieldJson(k, v);
    if (text !== undefined) out += `,${JSON.stringify(k)}:${text}`;
  }
  return out;
}

/** A message that is final text: stored inline, never interpolated nor interned. */
class InlineText {
  constructor(readonly text: string) {}
}

/**
 * quick-format's message for an object given arguments: the JSON of the object and of the
 * arguments after the first, joined by spaces (its loop reads one argument ahead: the last place
 * is empty).
 */
function joinedJson(msg: object, rest: readonly unknown[], from: number, to: number): string {
  const parts = [safeJson(msg)];
  for (let i = from + 1; i <= to; i++) parts.push(i < to ? (jsonOrUndefined(rest[i]) ?? '') : '');
  return parts.join(' ');
}

/** `JSON.stringify` as quick-format's stringify calls it (undefined where JSON has no text). */
function jsonOrUndefined(v: unknown): string | undefined {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol' ? undefined : safeJson(v);
}

/**
 * A pino-shaped logger: `trace`..`fatal`, `child(bindings)`, `level`, `isLevelEnabled`. A call
 * stores a binary record (level, message format ID, arguments) in this thread's ring and returns;
 * the consumer formats the line. Nothing is formatted or serialized here except objects nested
 * in the merging object or passed as arguments (as JSON text).
 */
export class Logger {
  readonly #sink: ThreadSink;
  readonly #bindings: Uint8Array;
  /**
   * The bindings' string-table ID (records carry it instead of the bytes) from this logger's
   * second record on, or NO_STRING (see {@link ThreadSink.internBindings}).
   */
  #bindingsId = NO_STRING;
  #untilIntern = RECORDS_BEFORE_INTERN;
  readonly #bindingsText: string;
  #level: number;
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
  /** Records the ring dropped (full in producer/consumer mode, recording off). */
  dropped = 0;

  /** @internal Use {@link createLogger} or {@link Logger.child}. */
  constructor(sink: ThreadSink, bindingsText: string, level: number) {
    this.#sink = sink;
    this.#bindingsText = bindingsText;
    this.#bindings = Buffer.from(bindingsText, 'utf8');
    this.#level = level;
    // Functions closing over the logger (callable detached, as pino's methods are). Up to four
    // arguments after the first go through a reused array: no allocation per call.
    const method = (value: number): LogFn => {
      const logger = this;
      return function log(a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown): void {
        const n = arguments.length;
        // Not while a call of this logger is in progress (a toJSON() that logs): it owns #rest.
        if (n <= 5 && !logger.#inCall) {
          const rest = logger.#rest;
          rest[0] = b;
          rest[1] = c;
          rest[2] = d;
          rest[3] = e;
          logger.#inCall = true;
          try {
            logger.#log(value, a, rest, n > 0 ? n - 1 : 0);
          } finally {
            logger.#inCall = false;
            rest[0] = rest[1] = rest[2] = rest[3] = undefined;
          }
        } else {
          // eslint-disable-next-line prefer-rest-params
          const all = Array.prototype.slice.call(arguments, 1) as unknown[];
          logger.#log(value, a, all, all.length);
        }
      } as LogFn;
    };
    this.trace = method(LEVELS.trace);
    this.debug = method(LEVELS.debug);
    this.info = method(LEVELS.info);
    this.warn = method(LEVELS.warn);
    this.error = method(LEVELS.error);
    this.fatal = method(LEVELS.fatal);
  }

  /** The arguments after the first of the call in progress (see the methods). */
  readonly #rest: unknown[] = [undefined, undefined, undefined, undefined];
  #inCall = false;

  /**
   * What pino makes of a call's arguments: a first argument that is an object (or null) is the
   * merging object (an error is `{ err }`) and the next one the message; otherwise the first is
   * the message (undefined: the next one). Only a string message is interpolated (in the
   * consumer, with the arguments after it); any other is the message as it is — an object given
   * arguments becomes quick-format's joined JSON. Without a message, an error's `message`, or
   * that of a merging object's `err` when it has no `msg`.
   */
  #log(level: number, first: unknown, rest: readonly unknown[], restLength: number): void {
    if (level < this.#level) return;
    let obj: object | undefined;
    let msg: unknown;
    let argStart = 0;
    if (typeof first === 'string') {
      msg = first;
    } else if (typeof first === 'object') {
      if (first === null && restLength === 0) {
        msg = null;
      } else {
        msg = restLength > 0 ? rest[0] : undefined;
        argStart = 1;
      }
      if (first instanceof Error) {
        obj = { err: first };
        if (msg === undefined) msg = first.message;
      } else if (first !== null) {
        obj = first;
        if (msg === undefined) {
          const fields = first as { msg?: unknown; err?: { message?: unknown } };
          if (fields.msg === undefined && fields.err) msg = fields.err.message;
        }
      }
    } else if (first === undefined) {
      msg = restLength > 0 ? rest[0] : undefined;
      argStart = 1;
    } else {
      msg = first;
    }
    if (typeof msg !== 'string') {
      if (typeof msg === 'object' && msg !== null && restLength > argStart) msg = new InlineText(joinedJson(msg, rest, argStart, restLength));
      else if (typeof msg === 'function') msg = undefined;
      argStart = restLength;
    }
    if (this.#untilIntern !== 0 && --this.#untilIntern === 0) this.#bindingsId = this.#sink.internBindings(this.#bindingsText);
    if (!this.#sink.write(level, this.#bindings, this.#bindingsId, obj, msg, rest, argStart, restLength)) this.dropped++;
  }

  /** The least level written. */
  get level(): LevelName | 'silent' {
    return (Object.keys(LEVELS) as LevelName[]).find((k) => LEVELS[k] === this.#level) ?? 'silent';
  }

  set level(name: LevelName | 'silent') {
    this.#level = levelValue(name);
  }

  /** Whether a call at `level` is written. */
  isLevelEnabled(level: LevelName): boolean {
    return LEVELS[level] >= this.#level;
  }

  /** A logger whose lines also carry `bindings` (serialized once, here). */
  child(bindings: Readonly<Record<string, unknown>>): Logger {
    return new Logger(this.#sink, this.#bindingsText + serializeBindings(bindings), this.#level);
  }

  /** The producer this thread's records go through (its `cpu` is the slot). */
  get producer(): Producer {
    return this.#sink.producer;
  }
}

function levelValue(name: unknown): number {
  if (name === 'silent') return Number.POSITIVE_INFINITY;
  const v = LEVELS[name as LevelName];
  if (v === undefined) throw new TraceBufferError('EINVAL', `unknown log level (trace, debug, info, warn, error, fatal, silent): level=${JSON.stringify(name)}`);
  return v;
}

/**
 * A logger writing into `tb` from this thread. The first logger of a thread claims a cpu slot
 * for the thread and gives it back when the thread exits. When every slot is taken, the buffer
 * brings another slot online for the thread (up to its `maxCpus`, then `EBUSY`), which the
 * buffer's `LogConsumer` reads as any other.
 */
export function createLogger(tb: TraceBuffer, options: LoggerOptions = {}): Logger {
  const level = levelValue(options.level ?? 'info');
  const sink = sinkFor(tb, options.cpu);
  const bindings = serializeBindings({ ...(options.name === undefined ? {} : { name: options.name }), ...options.bindings });
  return new Logger(sink, bindings, level);
}


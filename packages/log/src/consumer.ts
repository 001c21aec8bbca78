/**
 * The consumer side: takes the log records of every thread's ring (GET_READER, merged in
 * timestamp order), formats each as the line pino would have written — `level`, `time`, `pid`,
 * `hostname`, bindings, the merging object's fields, `msg` — and writes the NDJSON stream to a
 * file descriptor, a path or a function. Lost records become a line that says how many were lost
 * and where.
 *
 * @packageDocumentation
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { CpuCursor, LOST_EVENTS_UNKNOWN, TraceBuffer, TraceBufferError, defineEvent, earliest, followSlots, layout, waitAny } from '@tracebuf/core';
import { type CompiledFormat, FastRenderer, LineBuffer, type RecordStrings, compileFormat } from './line.js';
import { type Decoded, Decoder, LogEvent, MSG_NONE, RecordFlag, TRUNCATED_KEY } from './record.js';

/** The event a pino destination writes: one pre-serialized line. */
export const LogLineEvent = defineEvent('log_line', { line: 'string' });

/** Options of {@link LogConsumer}. */
export interface LogConsumerOptions {
  /** Where lines go: a file descriptor (default 1, stdout), a path (appended to), or a function. */
  readonly destination?: number | string | ((text: string) => void);
  /** `hostname` of every line. Default `os.hostname()`. */
  readonly hostname?: string;
  /** `pid` of every line. Default `process.pid`. */
  readonly pid?: number;
}

/** What a consumer has done. */
export interface LogConsumerStats {
  /** Lines written (records and lost-record lines). */
  readonly lines: number;
  /** Records reported lost (overwritten before they were read). */
  readonly lost: number;
  /** Records reported dropped (refused by a full ring, or while recording was off). */
  readonly dropped: number;
  /** Events that were not log records (other typed events in the same buffer). */
  readonly skipped: number;
}

/** Offsets of the log record's fields in its payload. */
const [LEVEL_OFFSET, MSG_OFFSET, DATA_OFFSET] = LogEvent.fields.map((f) => f.offset) as [number, number, number];
/** Offset of the log_line event's `__data_loc`. */
const LINE_OFFSET = LogLineEvent.fields[0]!.offset;

/** Output is written when this many bytes are pending. */
const FLUSH_BYTES = 1 << 16;

const LEVEL_LINES = new Map<number, string>([10, 20, 30, 40, 50, 60].map((l) => [l, `{"level":${l},"time":`]));

/**
 * A `%s`-style interpolation of `fmt` with `args`, as pino's quick-format does, quirks included:
 * without arguments the format is the message as it is (`%%` too); a `%` before any other
 * character takes an argument's place without using it (`'50% off %s'` keeps its `%s` when given
 * one argument); `%d`, `%f` and `%i` leave themselves for a null or undefined argument, and
 * `%j`, `%o` and `%O` for an undefined one, and use it up; `%s` is `String(value)`.
 */
export function interpolate(fmt: string, args: readonly Decoded[]): string {
  const n = args.length;
  if (n === 0) return fmt;
  let out = '';
  let last = -1;
  let a = 0;
  for (let i = 0; i < fmt.length; i++) {
    if (fmt.charCodeAt(i) !== 37 || i + 1 >= fmt.length) continue; // '%', not last
    if (last === -1) last = 0;
    const c = fmt.charCodeAt(i + 1);
    let text: string | undefined;
    if (c === 37) {
      text = '%';
      a--;
    } else if (a < n) {
      const d = args[a]!;
      if (c === 100 || c === 102 || c === 105) {
        // d f i
        const v = plainOf(d);
        if (v !== null && v !== undefined) text = String(c === 105 ? Math.floor(Number(v)) : Number(v));
      } else if (c === 106 || c === 111 || c === 79) {
        // j o O
        if (!(d.kind === 'plain' && d.value === undefined)) text = d.kind === 'plain' && typeof d.value === 'string' ? `'${d.value}'` : jsonOf(d);
      } else if (c === 115) {
        // s
        text = stringOf(d);
      }
    }
    a++;
    if (text === undefined) continue;
    out += fmt.slice(last, i) + text;
    last = i + 2;
    i++;
  }
  return last === -1 ? fmt : out + fmt.slice(last);
}

/** `String(value)` of the value a decoded argument was. */
function stringOf(d: Decoded): string {
  if (d.kind === 'json' && d.error) return errorPair(d.text)[0];
  return String(plainOf(d));
}

function plainOf(d: Decoded): unknown {
  switch (d.kind) {
    case 'plain':
      return d.value;
    case 'cut':
      return cutText(d);
    case 'json':
      // (An error's `Number(err)` is NaN.)
      return d.error ? Number.NaN : parseJson(d.text);
    default:
      return Object.fromEntries(d.entries.map(([k, v]) => [k, plainOf(v)]));
  }
}

/** JSON.parse of record text; damaged text is an unreadable record (`EINVAL`), not a crash. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TraceBufferError('EINVAL', `log record holds text that is not JSON: text=${JSON.stringify(text.slice(0, 40))}`);
  }
}

/** An error argument's `[String(err), JSON text]` (record.ts, Tag.ERROR). */
function errorPair(text: string): [string, string] {
  const pair = parseJson(text);
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
    throw new TraceBufferError('EINVAL', `log record holds an error argument that is not [text, JSON]: text=${JSON.stringify(text.slice(0, 40))}`);
  }
  return [pair[0], pair[1]];
}

function cutText(d: Extract<Decoded, { kind: 'cut' }>): string {
  return `${d.value}...[truncated: ${Buffer.byteLength(d.value)} of ${d.fullLength} bytes]`;
}

/** JSON text of a decoded value. */
function jsonOf(d: Decoded): string {
  switch (d.kind) {
    case 'plain':
      if (d.value === undefined) return 'null';
      // A BigInt as its digits, as pino's stringify writes one.
      if (typeof d.value === 'bigint') return d.value.toString();
      if (typeof d.value === 'number' && !Number.isFinite(d.value)) return 'null';
      return JSON.stringify(d.value);
    case 'cut':
      return JSON.stringify(cutText(d));
    case 'json':
      return d.error ? errorPair(d.text)[1] : d.text;
    default:
      return `{${d.entries
        .filter(([, v]) => !(v.kind === 'plain' && v.value === undefined))
        .map(([k, v]) => `${JSON.stringify(k)}:${jsonOf(v)}`)
        .join(',')}}`;
  }
}

/** The merging object's members as `,"k":v...` (pino merges them into the line). */
function members(d: Decoded): string {
  if (d.kind === 'flat') {
    let out = '';
    for (const [k, v] of d.entries) if (!(v.kind === 'plain' && v.value === undefined)) out += `,${JSON.stringify(k)}:${jsonOf(v)}`;
    return out;
  }
  if (d.kind === 'json' && d.text.startsWith('{')) return d.text.length > 2 ? `,${d.text.slice(1, -1)}` : '';
  // A merging object whose JSON did not fit the record: the start of its text, and how long it was.
  if (d.kind === 'cut') return `,${JSON.stringify(TRUNCATED_KEY)}:${JSON.stringify(cutText(d))}`;
  return '';
}

/** The `common_pid` (the writer's thread id) of the event whose payload starts at `at`. */
function threadOf(bytes: Uint8Array, at: number): number {
  const o = at + layout.COMMON_PID_OFFSET;
  return bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24);
}

/** The buffer the consumer reads, with what decoding its records needs. */
interface Ring {
  readonly tb: TraceBuffer;
  readonly logId: number;
  readonly lineId: number;
  readonly formats: Map<number, CompiledFormat>;
}

/**
 * Formats the log records of a buffer as pino NDJSON, in one thread (any thread: the main one,
 * or a worker dedicated to it). `drain()` writes everything committed so far; `run()` keeps
 * draining until aborted; `installExitDrain()` drains once more when the thread exits, so a
 * `process.exit()` loses nothing that was committed.
 */
export class LogConsumer {
  readonly #ring: Ring;
  /** One per cpu slot, slots that come online later included (followSlots). */
  readonly #cursors: CpuCursor[] = [];
  readonly #write: (bytes: Buffer, length: number) => void;
  readonly #close: () => void;
  readonly #prefix: string;
  readonly #decoder = new Decoder();
  /** Buffer time → epoch ms (the clocks in ns; the `counter` clock has no time: now). */
  readonly #epochOffsetMs: number | undefined;
  readonly #out = new LineBuffer();
  readonly #fast = new FastRenderer();
  /** Bindings and key shapes by string-table ID, as the renderer and the decoder need them. */
  readonly #bindingsById = new Map<number, { readonly text: string; readonly bytes: Uint8Array }>();
  readonly #shapes = new Map<number, { readonly keys: readonly string[]; readonly prefixes: readonly Uint8Array[] }>();
  readonly #recordStrings: RecordStrings = {
    // The cached entry first: no closure per record.
    bindings: (id) => this.#bindingsById.get(id)?.bytes ?? this.#tryStrings(() => this.#bindingsOf(id).bytes),
    shape: (id) => this.#shapes.get(id)?.prefixes ?? this.#tryStrings(() => this.#shapeOf(id).prefixes),
  };
  /**
   * Per standard level: `{"level":L,"time":T,"pid":P,"hostname":H` for the last millisecond `T`
   * a line of that level had (lines of the same millisecond share it: one copy per line).
   */
  readonly #heads = new Map<number, { time: number; bytes: Uint8Array }>();
  /** The last message format looked up (loops log the same statement). */
  #lastFormatId = -1;
  #lastFormat: CompiledFormat | undefined;
  #lines = 0;
  #lost = 0;
  #dropped = 0;
  /** Per cursor: the writer sequence at which its GET_READER gave up (EFAULT), or undefined (see #advance). */
  readonly #stalled: (number | undefined)[] = [];
  /** Per cpu: drops already reported by a line (close() reports the rest). */
  readonly #reportedDrops: number[] = [];
  #skipped = 0;
  #closed = false;

  constructor(tb: TraceBuffer, options: LogConsumerOptions = {}) {
    const dest = options.destination ?? 1;
    if (typeof dest === 'function') {
      this.#write = (bytes, length) => dest(bytes.toString('utf8', 0, length));
      this.#close = () => {};
    } else {
      const fd = typeof dest === 'number' ? dest : openSync(dest, 'a');
      let gone = false;
      this.#write = (bytes, length) => {
        // A reader that went away (`node app.js | head`): the lines have nowhere to go.
        if (gone) return;
        try {
          for (let at = 0; at < length; ) at += writeSync(fd, bytes, at, length - at);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
          gone = true;
        }
      };
      this.#close = typeof dest === 'number' ? () => {} : () => closeSync(fd);
    }
    this.#prefix = `,"pid":${options.pid ?? process.pid},"hostname":${JSON.stringify(options.hostname ?? osHostname())}`;
    for (const level of LEVEL_LINES.keys()) this.#heads.set(level, { time: Number.NaN, bytes: new Uint8Array(0) });
    this.#epochOffsetMs = tb.config.clock === 'counter' ? undefined : Date.now() - tb.now() / 1e6;
    this.#decoder.shapeKeys = (id) => this.#shapeOf(id).keys;
    this.#ring = { tb, logId: LogEvent.registerIn(tb.events), lineId: LogLineEvent.registerIn(tb.events), formats: new Map() };
    this.#follow();
  }

  /** `fn()`, or undefined when it names a string the table does not have (the general path says so). */
  #tryStrings<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (err instanceof TraceBufferError) return undefined;
      throw err;
    }
  }

  /** The bindings interned as `id`. `EINVAL` when there is no such string. */
  #bindingsOf(id: number): { readonly text: string; readonly bytes: Uint8Array } {
    let b = this.#bindingsById.get(id);
    if (b === undefined) {
      const text = this.#ring.tb.strings.get(id);
      b = { text, bytes: Buffer.from(text, 'utf8') };
      this.#bindingsById.set(id, b);
    }
    return b;
  }

  /** The keys of shape `id` (a JSON array of strings in the string table). `EINVAL` when it is not one. */
  #shapeOf(id: number): { readonly keys: readonly string[]; readonly prefixes: readonly Uint8Array[] } {
    let shape = this.#shapes.get(id);
    if (shape === undefined) {
      let keys: unknown;
      try {
        keys = JSON.parse(this.#ring.tb.strings.get(id));
      } catch (err) {
        if (err instanceof TraceBufferError) throw err;
      }
      if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
        throw new TraceBufferError('EINVAL', `log record refers to a string that is not a key shape: shape=${id}`);
      }
      shape = { keys, prefixes: keys.map((k: string) => Buffer.from(`,${JSON.stringify(k)}:`, 'utf8')) };
      this.#shapes.set(id, shape);
    }
    return shape;
  }

  /** Cursors for the slots that came online since (threads beyond the slots there were). */
  #follow(): void {
    followSlots(this.#ring.tb, this.#cursors, (m) => new CpuCursor(m));
  }

  /** Cpu slots read (the buffer's slots online, as of the last drain). */
  get slots(): number {
    return this.#cursors.length;
  }

  /** Lines, lost records and skipped events so far. */
  get stats(): LogConsumerStats {
    return { lines: this.#lines, lost: this.#lost, dropped: this.#dropped, skipped: this.#skipped };
  }

  #emit(text: string): void {
    const out = this.#out;
    out.ensure(text.length * 3);
    out.at += out.buf.write(text, out.at, 'utf8');
    this.#lines++;
    if (out.at >= FLUSH_BYTES) this.#flush();
  }

  #flush(): void {
    const out = this.#out;
    if (out.at === 0) return;
    this.#write(out.buf, out.at);
    out.at = 0;
  }

  /** The compiled format of string-table ID `id` of `ring`. */
  #format(ring: Ring, id: number): CompiledFormat {
    let f = ring.formats.get(id);
    if (f === undefined) {
      f = compileFormat(ring.tb.strings.get(id));
      ring.formats.set(id, f);
    }
    return f;
  }

  #time(ts: number): number {
    return this.#epochOffsetMs === undefined ? Date.now() : Math.floor(this.#epochOffsetMs + ts / 1e6);
  }

  /** Writes every record committed now, merged in timestamp order. Returns the lines written. */
  drain(): number {
    if (this.#closed) throw new TraceBufferError('ENODEV', 'the log consumer is closed: drain=after close');
    const before = this.#lines;
    this.#follow();
    for (;;) {
      const best = earliest(this.#cursors, this.#advance);
      if (best === undefined) break;
      const r = best.reader;
      // The thread of the record after the gap: the one writing on that ring.
      if (best.lost !== 0) this.#lostLine(best.mapping.cpu, best.lost, r.timestamp, threadOf(r.bytes, r.payloadOffset));
      best.lost = 0;
      best.has = false;
      this.#record(this.#ring, best.mapping.cpu, r.bytes, r.payloadOffset, r.payloadLength, r.timestamp);
    }
    this.#flush();
    return this.#lines - before;
  }

  /**
   * How `earliest()` advances a cursor here: a slot whose GET_READER fails with EFAULT — its
   * writer died inside a move to a new sub-buffer (or stalled there for a second) — is said so in
   * a line and skipped until its writer sequence moves (`tb.recover(cpu)` by the thread's owner,
   * or the writer going on); the other slots are read meanwhile.
   */
  readonly #advance = (c: CpuCursor, i: number): void => {
    const stalled = this.#stalled[i];
    if (stalled !== undefined) {
      if (c.mapping.writerSeq() === stalled) return;
      this.#stalled[i] = undefined;
    }
    try {
      c.advance();
    } catch (err) {
      if (!(err instanceof TraceBufferError) || err.code !== 'EFAULT') throw err;
      this.#stalled[i] = c.mapping.writerSeq();
      this.#stalledLine(c.mapping.cpu);
    }
  };

  #stalledLine(cpu: number): void {
    this.#emit(
      `{"level":50,"time":${this.#time(this.#ring.tb.now())}${this.#prefix},"cpu":${cpu},"msg":"tracebuf: the writer on cpu ${cpu} did not finish moving to a new sub-buffer for a second (a thread that died inside a log call?); its records are read again once it goes on, or once its owner takes the slot back with tb.recover(${cpu})"}\n`,
    );
  }

  #lostLine(cpu: number, lost: number, ts: number, tid: number): void {
    this.#lost += lost > 0 ? lost : 0;
    const count = lost === LOST_EVENTS_UNKNOWN ? 'an unknown number of' : String(lost);
    this.#emit(
      `{"level":40,"time":${this.#time(ts)}${this.#prefix},"lost":${lost === LOST_EVENTS_UNKNOWN ? null : lost},"cpu":${cpu},"tid":${tid},"msg":"tracebuf: ${count} log records lost on cpu ${cpu} (overwritten before they were read; thread ${tid} writes there)"}\n`,
    );
  }

  /** A line for `count` records the ring of `cpu` refused from thread `tid` (`tid` 0: unknown). */
  #droppedLine(cpu: number, count: number, tid: number, ts: number, after: string): void {
    this.#dropped += count;
    this.#reportedDrops[cpu] = (this.#reportedDrops[cpu] ?? 0) + count;
    const by = tid === 0 ? '' : ` by thread ${tid}`;
    this.#emit(
      `{"level":40,"time":${this.#time(ts)}${this.#prefix},"dropped":${count},"cpu":${cpu}${tid === 0 ? '' : `,"tid":${tid}`},"msg":"tracebuf: ${count} log records dropped on cpu ${cpu}${by} (${after})"}\n`,
    );
  }

  #record(ring: Ring, cpu: number, bytes: Uint8Array, at: number, length: number, ts: number): void {
    const d = this.#decoder;
    d.load(bytes, at, at + length);
    const view = d.view;
    const id = view.getUint16(at + layout.COMMON_TYPE_OFFSET, true);
    if (id === ring.lineId) {
      const loc = view.getUint32(at + LINE_OFFSET, true);
      const text = Buffer.from(bytes.buffer, bytes.byteOffset + at + (loc & 0xffff), Math.max(0, (loc >>> 16) - 1)).toString('utf8');
      this.#emit(text.endsWith('\n') ? text : `${text}\n`);
      return;
    }
    if (id !== ring.logId) {
      this.#skipped++;
      return;
    }
    const level = bytes[at + LEVEL_OFFSET]!;
    const msgId = view.getUint32(at + MSG_OFFSET, true);
    const loc = view.getUint32(at + DATA_OFFSET, true);
    const head = this.#heads.get(level);
    const start = at + (loc & 0xffff);
    const end = start + (loc >>> 16);
    if (((bytes[start] ?? 0) & RecordFlag.DROPS) !== 0 && start + 5 <= Math.min(end, at + length)) {
      this.#droppedLine(cpu, view.getUint32(start + 1, true), threadOf(bytes, at), ts, 'the ring was full or recording off');
    }
    if (head !== undefined && end <= at + length && ((bytes[start] ?? 0) & RecordFlag.MSG_INLINE) === 0) {
      // The fast path: the line rendered from the bytes (line.ts); the general path below when
      // it does not cover the record.
      const out = this.#out;
      const lineStart = out.at;
      const time = this.#time(ts);
      if (time !== head.time) {
        head.time = time;
        head.bytes = Buffer.from(`${LEVEL_LINES.get(level)!}${time}${this.#prefix}`, 'utf8');
      }
      const hasMsg = ((bytes[start] ?? 0) & RecordFlag.HAS_MSG) !== 0 && msgId !== MSG_NONE;
      let format: CompiledFormat | undefined;
      try {
        if (!hasMsg) format = undefined;
        else if (msgId === this.#lastFormatId) format = this.#lastFormat;
        else {
          format = this.#format(ring, msgId);
          this.#lastFormatId = msgId;
          this.#lastFormat = format;
        }
      } catch {
        format = undefined;
      }
      if ((!hasMsg || format !== undefined) && this.#fast.render(out, bytes, view, start, end, format, this.#recordStrings, head.bytes)) {
        this.#lines++;
        if (out.at >= FLUSH_BYTES) this.#flush();
        return;
      }
      out.at = lineStart;
    }
    try {
      if (end > at + length) throw new TraceBufferError('EINVAL', `log record data runs past the record: offset=${start}`);
      d.load(bytes, start, end);
      const flags = d.u8();
      if ((flags & RecordFlag.DROPS) !== 0) d.u32();
      const bindings = (flags & RecordFlag.BINDINGS_ID) !== 0 ? this.#bindingsOf(d.u32()).text : d.text(d.u32());
      let msg: string | undefined;
      let msgJson: string | undefined;
      if ((flags & RecordFlag.MSG_INLINE) !== 0) {
        const v = d.value();
        if (v.kind === 'cut') msg = cutText(v);
        else if (v.kind === 'plain' && typeof v.value === 'string') msg = v.value;
        else msgJson = jsonOf(v);
      } else if ((flags & RecordFlag.HAS_MSG) !== 0 && msgId !== MSG_NONE) {
        msg = ring.tb.strings.get(msgId);
      }
      const obj = (flags & RecordFlag.HAS_OBJECT) !== 0 ? members(d.value()) : '';
      const argc = d.u8();
      const args: Decoded[] = [];
      for (let i = 0; i < argc; i++) args.push(d.value());
      const head = LEVEL_LINES.get(level) ?? `{"level":${level},"time":`;
      const msgPart = msgJson !== undefined ? `,"msg":${msgJson}` : msg === undefined ? '' : `,"msg":${JSON.stringify(interpolate(msg, args))}`;
      this.#emit(`${head}${this.#time(ts)}${this.#prefix}${bindings}${obj}${msgPart}}\n`);
    } catch (err) {
      if (!(err instanceof TraceBufferError)) throw err;
      // A record this consumer cannot read (an unknown format ID, damaged data): say so.
      this.#emit(`{"level":50,"time":${this.#time(ts)}${this.#prefix},"msg":${JSON.stringify(`tracebuf: unreadable log record: ${err.message}`)}}\n`);
    }
  }

  /**
   * Drains whenever records arrive until `signal` aborts, then once more. Between drains it waits
   * on every slot with `waitAsync`: until a producer fills a sub-buffer (`bufferPercent` 0, the
   * default) or that much of a ring (the kernel's `buffer_percent`), or `idleMs` (default 20)
   * passes. `EINVAL` for a `bufferPercent` outside 0..100.
   */
  async run(options: { readonly signal?: AbortSignal; readonly idleMs?: number; readonly bufferPercent?: number } = {}): Promise<void> {
    const idle = options.idleMs ?? 20;
    const bufferPercent = options.bufferPercent ?? 0;
    if (!Number.isInteger(bufferPercent) || bufferPercent < 0 || bufferPercent > 100) {
      throw new TraceBufferError('EINVAL', `bufferPercent must be an integer 0..100: bufferPercent=${String(bufferPercent)}`);
    }
    while (options.signal?.aborted !== true) {
      if (this.drain() === 0) {
        await waitAny(
          this.#cursors.map((c) => c.mapping),
          { signal: options.signal, bufferPercent, timeoutMs: idle },
        );
      }
    }
    this.drain();
  }

  /** Drains when this thread exits (`process.exit()`, an uncaught exception, the end of the program). */
  installExitDrain(): this {
    process.once('exit', () => {
      if (!this.#closed) this.close();
    });
    return this;
  }

  /** Drains a last time, unmaps, and closes a destination it opened. */
  close(): void {
    if (this.#closed) return;
    this.drain();
    // Records refused after a ring's last record have no record to carry their count: the
    // buffer's own count (droppedEvents) says how many, once.
    const tb = this.#ring.tb;
    for (let cpu = 0; cpu < this.#cursors.length; cpu++) {
      const unreported = tb.stats(cpu).droppedEvents - (this.#reportedDrops[cpu] ?? 0);
      if (unreported > 0) this.#droppedLine(cpu, unreported, 0, tb.now(), 'after its last record');
    }
    this.#flush();
    this.#closed = true;
    for (const c of this.#cursors) c.mapping.unmap();
    this.#close();
  }
}

/**
 * A pino destination (`pino(tracebufDestination(tb))`): pino serializes each line in the
 * producer thread as usual, and the line travels through the ring to a {@link LogConsumer},
 * which writes it unchanged. The I/O leaves the thread; the serialization does not (use
 * {@link createLogger} to move that too).
 */
export function tracebufDestination(tb: TraceBuffer, options: { readonly cpu?: number } = {}): { write(line: string): boolean } {
  const p = tb.threadProducer(options.cpu);
  const room = Math.min(0xfffe, p.maxPayload - LogLineEvent.fixedLength - 1);
  return {
    write(line: string): boolean {
      // A line longer than a record can hold is cut at a character boundary (a marker says so).
      if (Buffer.byteLength(line) > room) line = `${Buffer.from(line).subarray(0, room - 64).toString('utf8').replace(/\uFFFD$/, '')}...[truncated line]\n`;
      return LogLineEvent.write(p, line);
    },
  };
}

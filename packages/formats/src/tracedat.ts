/**
 * trace-cmd's `trace.dat`, version 6 (man 5 trace-cmd.dat.v6): the file `trace-cmd report` and
 * KernelShark open. Written from a {@link Capture} (sub-buffers per CPU + event formats), read
 * back into one.
 *
 * ```
 *  magic 17 08 44 "tracing" "6\0"  endian(u8) long_size(u8) page_size(u32)
 *  "header_page\0"  u64 len, text        "header_event\0" u64 len, text
 *  u32 ftrace formats (0)                u32 systems, per system: name\0 u32 n (u64 len, format)×n
 *  u32 kallsyms (0)   u32 printk (0)     u64 len, saved cmdlines ("pid comm\n" lines)
 *  u32 cpus   "options  \0" (u16 id, u32 size, data)… u16 0   (TRACECLOCK: the clock text, NUL-terminated)
 *  "flyrecord\0" (u64 offset, u64 size)×cpus   u64 len, trace_clock text (TRACECLOCK option)
 *  zero padding to a page, then each CPU's sub-buffers, page-aligned
 * ```
 *
 * @packageDocumentation
 */
import { type EventFormat, formatText, layout, parseEventFormat } from '@tracebuf/core';
import { type Capture, type CpuData, badInput } from './capture.js';

const { SUBBUF_DATA_OFFSET } = layout;

/** The file's first bytes: 0x17 0x08 0x44 "tracing". */
export const TRACE_DAT_MAGIC = Uint8Array.of(0x17, 0x08, 0x44, ...Buffer.from('tracing', 'latin1'));
/** The version this module writes and reads. */
export const TRACE_DAT_VERSION = 6;
/** Option ids (trace-cmd's `enum tracecmd_file_options`). */
export const TraceDatOption = { DONE: 0, TRACECLOCK: 4, CPUCOUNT: 8 } as const;

/** `events/header_page` as a 64-bit kernel prints it, for `subbufSize`-byte sub-buffers. */
export function headerPageText(subbufSize: number): string {
  return [
    '\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;',
    '\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;',
    '\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;',
    `\tfield: char data;\toffset:${SUBBUF_DATA_OFFSET};\tsize:${subbufSize - SUBBUF_DATA_OFFSET};\tsigned:1;`,
    '',
  ].join('\n');
}

/** `events/header_event` as the kernel prints it. */
export const HEADER_EVENT_TEXT = [
  '# compressed entry header',
  '\ttype_len    :    5 bits',
  '\ttime_delta  :   27 bits',
  '\tarray       :   32 bits',
  '',
  '\tpadding     : type == 29',
  '\ttime_extend : type == 30',
  '\ttime_stamp : type == 31',
  '\tdata max type_len  == 28',
  '',
].join('\n');

/** trace-cmd prints these clocks' stamps as sec.usec; any other (e.g. `counter`) as raw counts. */
const NS_CLOCKS = new Set(['local', 'global', 'mono', 'mono_raw', 'boot', 'tai', 'perf', 'uptime']);

/** The trace_clock text for the capture's clock: the kernel's list with the current one bracketed. */
export function traceClockText(clock: string): string {
  const list = ['local', 'global', 'counter', 'uptime', 'perf', 'mono', 'mono_raw', 'boot', 'tai'];
  if (!list.includes(clock)) list.push(clock);
  return `${list.map((c) => (c === clock ? `[${c}]` : c)).join(' ')}\n`;
}

class Out {
  readonly parts: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  text(s: string, nul = false): void {
    this.bytes(Buffer.from(nul ? `${s}\0` : s, 'utf8'));
  }

  u8(v: number): void {
    this.bytes(Uint8Array.of(v));
  }

  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.bytes(b);
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.bytes(b);
  }

  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.bytes(b);
  }

  /** u64 length + text. */
  block64(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
}

/** The pid → name lines of saved_cmdlines. */
function cmdlinesText(threads: ReadonlyMap<number, string>): string {
  return [...threads].map(([pid, comm]) => `${pid} ${comm}\n`).join('');
}

/**
 * The metadata of a trace.dat (everything before the CPU data) for `capture`, with the CPU
 * data's sizes, and where each CPU's data goes. The data itself is the capture's sub-buffers,
 * written after it unchanged.
 */
export function traceDatHeader(capture: Pick<Capture, 'subbufSize' | 'clock' | 'formats' | 'threads'>, cpuSizes: readonly number[]): { header: Uint8Array; offsets: number[] } {
  const { subbufSize } = capture;
  const out = new Out();
  out.bytes(TRACE_DAT_MAGIC);
  out.text(String(TRACE_DAT_VERSION), true);
  out.u8(0); // little-endian
  out.u8(8); // long size
  out.u32(subbufSize);
  out.text('header_page', true);
  out.block64(headerPageText(subbufSize));
  out.text('header_event', true);
  out.block64(HEADER_EVENT_TEXT);
  out.u32(0); // ftrace event formats
  const systems = new Map<string, EventFormat[]>();
  for (const f of capture.formats) systems.set(f.system, [...(systems.get(f.system) ?? []), f]);
  out.u32(systems.size);
  for (const [system, formats] of systems) {
    out.text(system, true);
    out.u32(formats.length);
    for (const f of formats) out.block64(formatText(f));
  }
  out.u32(0); // kallsyms
  out.u32(0); // printk formats
  out.block64(cmdlinesText(capture.threads));
  out.u32(cpuSizes.length);
  out.text('options  ', true);
  // TRACECLOCK says the clock text follows the CPU table. trace-cmd record writes it empty, but
  // trace-cmd 3.x's reader also parses the option's data as a clock text with strtok (no length):
  // an empty option lets it read past a 0-byte block, and whatever it finds there can turn
  // `trace-cmd report` to raw counts. The option carries the NUL-terminated text too.
  const optionClock = Buffer.from(`${traceClockText(capture.clock)}\0`, 'utf8');
  out.u16(TraceDatOption.TRACECLOCK);
  out.u32(optionClock.length);
  out.bytes(optionClock);
  out.u16(TraceDatOption.CPUCOUNT);
  out.u32(4);
  out.u32(cpuSizes.length);
  out.u16(TraceDatOption.DONE);
  out.text('flyrecord', true);
  const clock = Buffer.from(traceClockText(capture.clock), 'utf8');
  const tableLength = cpuSizes.length * 16 + 8 + clock.length;
  let at = Math.ceil((out.length + tableLength) / subbufSize) * subbufSize;
  const offsets: number[] = [];
  for (const size of cpuSizes) {
    offsets.push(size === 0 ? 0 : at);
    out.u64(size === 0 ? 0 : at);
    out.u64(size);
    at += Math.ceil(size / subbufSize) * subbufSize;
  }
  out.u64(clock.length);
  out.bytes(clock);
  const firstData = Math.ceil(out.length / subbufSize) * subbufSize;
  out.bytes(new Uint8Array(firstData - out.length));
  const header = Buffer.concat(out.parts);
  return { header, offsets };
}

/** The whole trace.dat of `capture`, in memory. */
export function toTraceDat(capture: Capture): Uint8Array {
  const { header } = traceDatHeader(
    capture,
    capture.cpus.map((c) => c.bytes.length),
  );
  return Buffer.concat([header, ...capture.cpus.map((c) => c.bytes)]);
}

/** Whether trace-cmd prints this clock's stamps in seconds (true) or as raw counts. */
export function clockIsNs(clock: string): boolean {
  return NS_CLOCKS.has(clock);
}

/** A bounds-checked little-endian reader over a file's bytes; every failure names the offset. */
class In {
  at = 0;
  readonly #view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n: number, what: string): void {
    if (this.at + n > this.bytes.length || n < 0) badInput(`trace.dat is truncated in ${what} (needs ${n} bytes, ${this.bytes.length - this.at} left)`, this.at);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.at++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.#view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.#view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  u64(what: string): number {
    this.need(8, what);
    const hi = this.#view.getUint32(this.at + 4, true);
    const lo = this.#view.getUint32(this.at, true);
    if (hi >= 0x200000) badInput(`trace.dat has a ${what} beyond 2^53`, this.at);
    this.at += 8;
    return hi * 4294967296 + lo;
  }

  cstring(what: string, max = 4096): string {
    const start = this.at;
    const end = this.bytes.indexOf(0, start);
    if (end < 0 || end - start > max) badInput(`trace.dat has no NUL-terminated ${what}`, start);
    this.at = end + 1;
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start).toString('utf8');
  }

  text(n: number, what: string): string {
    this.need(n, what);
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.at, n).toString('utf8');
    this.at += n;
    return s;
  }

  expect(s: string, what: string): void {
    const at = this.at;
    const got = this.cstring(what, 64);
    if (got !== s) badInput(`trace.dat has ${JSON.stringify(got)} where ${JSON.stringify(s)} belongs (${what})`, at);
  }
}

/** The sub-buffer size a header_page text gives (the `data` field's size + 16). */
function subbufSizeOf(text: string, at: number): number {
  const m = /field:\s*char data;\s*offset:(\d+);\s*size:(\d+);/.exec(text);
  if (m === null) badInput('trace.dat header_page has no data field', at);
  return Number(m[1]) + Number(m[2]);
}

/**
 * Reads a trace.dat (version 6, little-endian, 64-bit) into a {@link Capture}: the event formats
 * of every system, saved cmdlines, the clock and each CPU's sub-buffers (views into `bytes`, no
 * copy). Anything truncated or malformed is `EINVAL` naming the offset.
 */
export function readTraceDat(bytes: Uint8Array): Capture {
  const r = new In(bytes);
  r.need(TRACE_DAT_MAGIC.length, 'the magic');
  for (let i = 0; i < TRACE_DAT_MAGIC.length; i++) if (bytes[i] !== TRACE_DAT_MAGIC[i]) badInput('not a trace.dat (bad magic)', i);
  r.at = TRACE_DAT_MAGIC.length;
  const versionAt = r.at;
  const version = r.cstring('version', 16);
  if (version !== String(TRACE_DAT_VERSION)) badInput(`trace.dat version ${JSON.stringify(version)} is not supported (6 is)`, versionAt);
  const endianAt = r.at;
  if (r.u8('endianness') !== 0) badInput('big-endian trace.dat is not supported', endianAt);
  const longAt = r.at;
  if (r.u8('long size') !== 8) badInput('trace.dat of a 32-bit kernel is not supported', longAt);
  const pageAt = r.at;
  const pageSize = r.u32('page size');
  if (pageSize < 4096 || pageSize > 1 << 20 || (pageSize & (pageSize - 1)) !== 0) badInput(`trace.dat page size ${pageSize} is not a power of two in 4096..1048576`, pageAt);
  r.expect('header_page', 'the header_page block');
  const headerPageAt = r.at;
  const headerPage = r.text(r.u64('header_page length'), 'header_page');
  const subbufSize = subbufSizeOf(headerPage, headerPageAt);
  if (subbufSize !== pageSize) badInput(`trace.dat header_page gives ${subbufSize}-byte sub-buffers but the page size is ${pageSize}`, headerPageAt);
  r.expect('header_event', 'the header_event block');
  r.text(r.u64('header_event length'), 'header_event');
  const formats: EventFormat[] = [];
  const ftrace = r.u32('ftrace format count');
  for (let i = 0; i < ftrace; i++) formats.push(readFormat(r, 'ftrace'));
  const systems = r.u32('system count');
  for (let s = 0; s < systems; s++) {
    const system = r.cstring('system name', 256);
    const n = r.u32('event count');
    for (let i = 0; i < n; i++) formats.push(readFormat(r, system));
  }
  r.text(r.u32('kallsyms length'), 'kallsyms');
  r.text(r.u32('printk formats length'), 'printk formats');
  const cmdlines = r.text(r.u64('saved cmdlines length'), 'saved cmdlines');
  const threads = new Map<number, string>();
  for (const line of cmdlines.split('\n')) {
    const m = /^(\d+) (.*)$/.exec(line);
    if (m !== null) threads.set(Number(m[1]), m[2]!);
  }
  const cpuCount = r.u32('cpu count');
  if (cpuCount > 4096) badInput(`trace.dat says ${cpuCount} CPUs`, r.at - 4);
  let word = r.cstring('section name', 16);
  let hasClock = false;
  if (word === 'options  ') {
    for (;;) {
      const id = r.u16('option id');
      if (id === TraceDatOption.DONE) break;
      const size = r.u32('option size');
      r.need(size, `option ${id}`);
      if (id === TraceDatOption.TRACECLOCK) hasClock = true;
      r.at += size;
    }
    word = r.cstring('section name', 16);
  }
  if (word !== 'flyrecord') badInput(`trace.dat has ${JSON.stringify(word)} where "flyrecord" belongs (latency files are not supported)`, r.at - word.length - 1);
  const table: { offset: number; size: number; at: number }[] = [];
  for (let cpu = 0; cpu < cpuCount; cpu++) table.push({ at: r.at, offset: r.u64('cpu data offset'), size: r.u64('cpu data size') });
  let clock = 'local';
  if (hasClock) {
    const text = r.text(r.u64('trace_clock length'), 'trace_clock');
    clock = /\[([^\]]+)\]/.exec(text)?.[1] ?? clock;
  }
  const cpus: CpuData[] = table.map(({ offset, size, at }) => {
    if (size === 0) return { bytes: new Uint8Array(0), fileOffset: offset };
    if (offset % pageSize !== 0) badInput(`trace.dat cpu data at ${offset} is not page-aligned`, at);
    if (offset + size > bytes.length) badInput(`trace.dat cpu data (${size} bytes at ${offset}) runs past the end of the file (${bytes.length} bytes)`, at);
    return { bytes: bytes.subarray(offset, offset + size), fileOffset: offset };
  });
  return { subbufSize, clock, formats, threads, cpus };
}

function readFormat(r: In, system: string): EventFormat {
  const at = r.at;
  const text = r.text(r.u64('event format length'), 'event format');
  try {
    return parseEventFormat(text, system);
  } catch (err) {
    return badInput(`trace.dat has an event format that does not parse (${(err as Error).message})`, at);
  }
}

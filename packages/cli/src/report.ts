/**
 * `tracebuf report <file>`: a trace.dat or a raw (`trace_pipe_raw`) file as text lines like
 * `trace-cmd report` prints, or as Chrome trace-event JSON.
 *
 * @packageDocumentation
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type EventFormat, TraceBufferError, parseEventFormat } from '@tracebuf/core';
import { type Capture, TRACE_DAT_MAGIC, readRaw, readTraceDat, toChromeTrace, walkCapture, writeText } from '@tracebuf/formats';
import { type OptionSpec, UsageError, helpText, intOption, parseArgs } from './args.js';

/** The options of `tracebuf report`. */
export const REPORT_OPTIONS: readonly OptionSpec[] = [
  { name: 'chrome', type: 'boolean', help: 'print Chrome trace-event JSON (Perfetto UI opens it) instead of text' },
  { name: 'output', short: 'o', type: 'string', value: 'file', help: 'write to a file instead of stdout' },
  { name: 'subbuf-size', type: 'string', value: 'bytes', help: 'raw files: the sub-buffer size (default: 4096)' },
  { name: 'cpu', type: 'string', value: 'n', help: 'raw files: the cpu the stream is of (default: 0)' },
  { name: 'clock', type: 'string', value: 'name', help: 'raw files: the clock (mono, local, counter; default: mono)' },
  {
    name: 'formats',
    type: 'string',
    value: 'file',
    help: 'raw files: event formats to decode with — a trace.dat, or a tracefs events/<system>/<event>/format file',
  },
];

/** The help of `tracebuf report`. */
export const REPORT_HELP = helpText(
  'usage: tracebuf report [options] <file>',
  [
    'Prints a trace.dat (version 6) or a raw sub-buffer stream (what trace_pipe_raw and',
    '`tracebuf record` write) as one line per event: thread, cpu, timestamp, event, fields.',
    'A raw file without --formats prints each record as hex. Damaged input is an error naming',
    'the offset (exit code 1).',
  ].join('\n'),
  REPORT_OPTIONS,
);

/** Reads `path` as event formats: a trace.dat's, or one tracefs format file. */
function formatsFrom(path: string): EventFormat[] {
  const bytes = readFileSync(path);
  if (bytes.subarray(0, TRACE_DAT_MAGIC.length).equals(TRACE_DAT_MAGIC)) return [...readTraceDat(bytes).formats];
  // events/<system>/<event>/format: the system is the grandparent directory's name.
  return [parseEventFormat(bytes.toString('utf8'), basename(dirname(dirname(path))) || 'user')];
}

/** Loads `path` as a capture (trace.dat by its magic, raw otherwise). */
export function loadCapture(path: string, parsed: ReturnType<typeof parseArgs>): Capture {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (bytes.subarray(0, TRACE_DAT_MAGIC.length).equals(TRACE_DAT_MAGIC)) return readTraceDat(bytes);
  const formats = parsed.options.formats === undefined ? [] : formatsFrom(parsed.options.formats as string);
  const clock = (parsed.options.clock ?? 'mono') as string;
  return readRaw(bytes, { subbufSize: intOption(parsed, 'subbuf-size', 4096, 4096, 1 << 20), cpu: intOption(parsed, 'cpu', 0, 0, 4095), formats, clock });
}

/** Hex lines for a capture without formats. */
function writeHex(capture: Capture, write: (line: string) => void): number {
  return walkCapture(capture, (r) => {
    if (r.lostBefore !== 0) write(`CPU:${r.cpu} [${r.lostBefore > 0 ? `${r.lostBefore} ` : ''}EVENTS DROPPED]\n`);
    write(`[${String(r.cpu).padStart(3, '0')}] ${r.timestamp}: raw: len=${r.length} ${Buffer.from(r.bytes.buffer, r.bytes.byteOffset + r.offset, r.length).toString('hex')}\n`);
  });
}

/**
 * Runs `tracebuf report` with `argv`; returns the number of events. `progress` gets a line about
 * once a second while a long report runs.
 */
export function runReport(argv: readonly string[], out: (text: string) => void, progress: (line: string) => void = () => {}): number {
  const parsed = parseArgs(argv, REPORT_OPTIONS);
  if (parsed.positionals.length !== 1) throw new UsageError(parsed.positionals.length === 0 ? 'report needs a file' : `report takes one file: ${parsed.positionals.join(' ')}`);
  const capture = loadCapture(parsed.positionals[0]!, parsed);
  const target = parsed.options.output as string | undefined;
  const chunks: string[] = [];
  const started = performance.now();
  let lines = 0;
  let shown = started;
  const emit = target === undefined ? out : (s: string): void => void chunks.push(s);
  const write = (s: string): void => {
    emit(s);
    if ((++lines & 0xfff) === 0 && performance.now() - shown >= 1000) {
      shown = performance.now();
      progress(`report: ${lines} lines, ${((shown - started) / 1000).toFixed(0)} s`);
    }
  };
  let n: number;
  if (parsed.options.chrome === true) {
    if (capture.formats.length === 0) throw new TraceBufferError('EINVAL', 'Chrome JSON needs event formats (a trace.dat, or --formats): formats=0');
    const trace = toChromeTrace(capture);
    n = trace.traceEvents.length;
    write(`${JSON.stringify(trace)}\n`);
  } else {
    n = capture.formats.length === 0 ? writeHex(capture, write) : writeText(capture, write);
  }
  if (target !== undefined) writeFileSync(target, chunks.join(''));
  return n;
}

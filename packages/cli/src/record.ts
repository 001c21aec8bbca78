/**
 * `tracebuf record`: runs a script (in a worker thread) or a piscina pool of workers with a
 * buffer to trace into, drains the buffer while they run, and writes a trace.dat.
 *
 * @packageDocumentation
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ClockNameValue, TraceBuffer } from '@tracebuf/core';
import { TraceDatRecorder } from '@tracebuf/formats';
import { RECORD_WORKER_DATA_KEY } from '@tracebuf/node';
import { createProducerPool } from '@tracebuf/node/piscina';
import { type OptionSpec, UsageError, helpText, intOption, parseArgs } from './args.js';

/** The options of `tracebuf record`. */
export const RECORD_OPTIONS: readonly OptionSpec[] = [
  { name: 'output', short: 'o', type: 'string', value: 'file', help: 'trace.dat to write (default: trace.dat)' },
  { name: 'cpus', type: 'string', value: 'n', help: 'cpu slots (rings) online at the start; threads beyond them bring more online (default: 4; with --pool: the pool size)' },
  { name: 'nr-subbufs', type: 'string', value: 'n', help: 'sub-buffers per ring (default: 256)' },
  { name: 'subbuf-size', type: 'string', value: 'bytes', help: 'sub-buffer size, a power of two 4096..1048576 (default: 4096)' },
  { name: 'clock', type: 'string', value: 'name', help: 'mono | local | counter (default: mono)' },
  { name: 'no-overwrite', type: 'boolean', help: 'producer/consumer mode: a full ring drops the newest events' },
  { name: 'pool', type: 'string', value: 'n', help: 'run the script as the task file of a piscina pool of n threads' },
  { name: 'tasks', type: 'string', value: 'n', help: 'with --pool: tasks to run (default: the pool size); task i gets { index: i, args }' },
  { name: 'interval', type: 'string', value: 'ms', help: 'how often the buffer is drained to disk (default: 50)' },
  { name: 'quiet', short: 'q', type: 'boolean', help: 'no progress line' },
];

/** The help of `tracebuf record`. */
export const RECORD_HELP = helpText(
  'usage: tracebuf record [options] <script> [script args...]',
  [
    'Runs <script> in a worker thread with tracing on and writes what it traced to a trace.dat',
    '(read it with `tracebuf report` or `trace-cmd report`; KernelShark opens it). In the script,',
    "`recordingBuffer()` from '@tracebuf/node' is the buffer: write typed events with",
    '`tb.defineEvent(...)` and a `tb.producer()`, and hand `tb.handle` to any worker it starts.',
    "With --pool, <script> is a piscina task file: each pool thread writes with `poolProducer()`",
    "from '@tracebuf/node/piscina'.",
  ].join('\n'),
  RECORD_OPTIONS,
);

/** What a recording did. */
export interface RecordResult {
  readonly output: string;
  readonly subbufs: number;
  readonly bytes: number;
  readonly events: number;
  readonly lost: number;
  /** The script's exit code (0 when it ended normally). */
  readonly scriptExitCode: number;
}

/** Runs `tracebuf record` with `argv` (after the command name). */
export async function runRecord(argv: readonly string[], print: (line: string) => void, progress: (line: string) => void): Promise<RecordResult> {
  const parsed = parseArgs(argv, RECORD_OPTIONS, true);
  const [script, ...scriptArgs] = parsed.positionals;
  if (script === undefined) throw new UsageError('record needs a script to run');
  const path = resolve(script);
  if (!existsSync(path)) throw new UsageError(`no such script: ${script}`);
  const pool = parsed.options.pool === undefined ? 0 : intOption(parsed, 'pool', 0, 1, 256);
  const tasks = intOption(parsed, 'tasks', pool, 1, 1_000_000);
  if (parsed.options.tasks !== undefined && pool === 0) throw new UsageError('--tasks needs --pool');
  const clock = (parsed.options.clock ?? 'mono') as string;
  if (!['mono', 'local', 'counter'].includes(clock)) throw new UsageError(`--clock must be mono, local or counter: clock=${clock}`);
  const interval = intOption(parsed, 'interval', 50, 1, 60_000);
  const output = resolve((parsed.options.output as string | undefined) ?? 'trace.dat');
  let tb: TraceBuffer;
  try {
    tb = TraceBuffer.create({
      cpus: intOption(parsed, 'cpus', pool > 0 ? pool : 4, 1, 1024),
      nrSubbufs: intOption(parsed, 'nr-subbufs', 256, 3, 1 << 20),
      subbufSize: intOption(parsed, 'subbuf-size', 4096, 4096, 1 << 20),
      overwrite: parsed.options['no-overwrite'] !== true,
      clock: clock as ClockNameValue,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.options.quiet === true) progress = (): void => {};
  const recorder = new TraceDatRecorder(tb);
  const started = performance.now();
  let lastProgress = started;
  const events = (): { events: number; lost: number } => {
    let n = 0;
    let lost = 0;
    for (let cpu = 0; cpu < tb.cpus; cpu++) {
      const s = tb.stats(cpu);
      n += s.entries + s.readEvents;
      lost += s.overrun + s.droppedEvents;
    }
    return { events: n, lost };
  };
  const timer = setInterval(() => {
    const p = recorder.drain();
    const now = performance.now();
    if (now - lastProgress >= 1000) {
      lastProgress = now;
      const e = events();
      const secs = (now - started) / 1000;
      progress(`recording ${secs.toFixed(0)} s: ${e.events} events (${(e.events / secs).toFixed(0)}/s), ${(p.bytes / 1e6).toFixed(1)} MB, ${e.lost} lost`);
    }
  }, interval);
  let scriptExitCode = 0;
  try {
    if (pool > 0) {
      const producers = createProducerPool({ tb, filename: path, maxThreads: pool, minThreads: pool });
      try {
        await Promise.all(Array.from({ length: tasks }, (_, index) => producers.run({ index, args: scriptArgs })));
      } catch (err) {
        print(`a task failed: ${(err as Error).message}`);
        scriptExitCode = 1;
      } finally {
        await producers.destroy();
      }
    } else {
      const worker = new Worker(pathToFileURL(path), { argv: scriptArgs, workerData: { [RECORD_WORKER_DATA_KEY]: tb.handle } });
      scriptExitCode = await new Promise<number>((resolveExit) => {
        worker.once('error', (err) => {
          print(`the script failed: ${err.stack ?? err.message}`);
        });
        worker.once('exit', (code) => resolveExit(code === 0 ? 0 : code || 1));
      });
    }
  } finally {
    clearInterval(timer);
  }
  const e = events();
  const done = recorder.finish(output);
  const result: RecordResult = { output, subbufs: done.subbufs, bytes: done.bytes, events: e.events, lost: e.lost, scriptExitCode };
  print(`wrote ${output}: ${e.events} events on ${tb.cpus} cpus, ${done.subbufs} sub-buffers (${done.bytes} bytes), ${e.lost} lost`);
  return result;
}

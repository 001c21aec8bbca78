#!/usr/bin/env node
/**
 * `tracebuf` command line: `demo`, `record`, `report`, `stats`. Exit codes: 0 done, 1 failed (a damaged
 * file, a failing script), 2 bad arguments.
 *
 * @packageDocumentation
 */
import { writeSync } from 'node:fs';
import { TraceBufferError } from '@tracebuf/core';
import { UsageError, intOption, parseArgs } from './args.js';
import { runDemo } from './demo.js';
import { runPoolDemo } from './pool-demo.js';
import { RECORD_HELP, runRecord } from './record.js';
import { REPORT_HELP, runReport } from './report.js';
import { STATS_HELP, runStats } from './stats.js';

const DEMO_HELP = [
  'usage: tracebuf demo [--requests N] [--workers W] [--out DIR]',
  '       tracebuf demo --core [--events N]',
  '',
  'A piscina pool of W workers (default 2) serves N simulated requests (default 20000); each',
  'logs with @tracebuf/log and records telemetry with @tracebuf/telemetry; the main thread',
  'consumes both, prints a progress line each second and a summary, and writes the pino NDJSON',
  'log and a Chrome trace of the spans into DIR (default ./tracebuf-demo).',
  '',
  '--core: the ring buffer alone: writes N events (default 2000), maps the buffer, drains it',
  'with GET_READER and prints what was read and the counters.',
  '',
].join('\n');

const HELP = [
  'usage: tracebuf <command> [options]',
  '',
  'commands:',
  '  demo      the quick-start demo: a worker pool logging and recording telemetry (--core: the ring alone)',
  '  record    run a script or a piscina pool with tracing on; write a trace.dat',
  '  report    print a trace.dat or a raw sub-buffer file as text (or Chrome JSON)',
  '  stats     count what a trace.dat or raw file holds: per cpu, per event type',
  '',
  'tracebuf <command> --help shows the options of a command.',
  '',
].join('\n');

/** Thrown when stdout's reader went away (`tracebuf report f | head`): stop quietly. */
class ClosedOutput extends Error {}

/** Text to stdout in 64 KiB writes (synchronous: the report is a loop, not a stream). */
class StdoutBatch {
  #parts: string[] = [];
  #length = 0;

  write(text: string): void {
    this.#parts.push(text);
    this.#length += text.length;
    if (this.#length >= 65536) this.flush();
  }

  flush(): void {
    const text = this.#parts.join('');
    this.#parts = [];
    this.#length = 0;
    try {
      writeSync(1, text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') throw new ClosedOutput();
      throw err;
    }
  }
}

function wantsHelp(argv: readonly string[]): boolean {
  const stop = argv.indexOf('--');
  const head = stop < 0 ? argv : argv.slice(0, stop);
  // For record, the script's own arguments (after the script) are the script's.
  const first = head.findIndex((a) => !a.startsWith('-'));
  return (first < 0 ? head : head.slice(0, first)).some((a) => a === '--help' || a === '-h');
}

async function demo(argv: readonly string[], progress: (line: string) => void): Promise<number> {
  const parsed = parseArgs(argv, [
    { name: 'core', type: 'boolean', help: '' },
    { name: 'events', type: 'string', help: '' },
    { name: 'requests', type: 'string', help: '' },
    { name: 'workers', type: 'string', help: '' },
    { name: 'out', type: 'string', help: '' },
  ]);
  if (parsed.positionals.length > 0) throw new UsageError(`unknown argument: ${parsed.positionals[0]}`);
  if (parsed.options.core === true) {
    if (parsed.options.requests !== undefined || parsed.options.workers !== undefined || parsed.options.out !== undefined) throw new UsageError('--core takes only --events');
    const result = runDemo({ events: intOption(parsed, 'events', 2000, 0, 10_000_000) });
    return result.read + result.lost === result.written ? 0 : 1;
  }
  if (parsed.options.events !== undefined) throw new UsageError('--events goes with --core');
  const result = await runPoolDemo({
    requests: intOption(parsed, 'requests', 20_000, 1, 10_000_000),
    workers: intOption(parsed, 'workers', 2, 1, 64),
    ...(parsed.options.out === undefined ? {} : { out: parsed.options.out as string }),
    progress,
  });
  return result.logLines === result.requests && result.servedCounted === result.requests ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const helps: Record<string, string> = { demo: DEMO_HELP, record: RECORD_HELP, report: REPORT_HELP, stats: STATS_HELP };
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    }
    const help = helps[command];
    if (help === undefined) throw new UsageError(`unknown command: ${command}`);
    if (wantsHelp(rest)) {
      process.stdout.write(help);
      return 0;
    }
    if (command === 'demo') {
      const tty = process.stderr.isTTY === true;
      const code = await demo(rest, (line) => (tty ? process.stderr.write(`\r${line}\x1b[K`) : console.error(line)));
      return code;
    }
    if (command === 'stats') {
      runStats(rest, (line) => console.log(line));
      return 0;
    }
    if (command === 'report') {
      const out = new StdoutBatch();
      try {
        const tty = process.stderr.isTTY === true;
        runReport(
          rest,
          (text) => out.write(text),
          (line) => (tty ? process.stderr.write(`\r${line}\x1b[K`) : console.error(line)),
        );
        if (tty) process.stderr.write('\r\x1b[K');
        out.flush();
      } catch (err) {
        if (!(err instanceof ClosedOutput)) throw err;
      }
      return 0;
    }
    const tty = process.stderr.isTTY === true;
    const result = await runRecord(
      rest,
      (line) => console.error(line),
      (line) => (tty ? process.stderr.write(`\r${line}\x1b[K`) : console.error(line)),
    );
    if (tty) process.stderr.write('\n');
    return result.scriptExitCode === 0 ? 0 : 1;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`tracebuf: ${err.message}\n`);
      console.error(helps[command ?? ''] ?? HELP);
      return 2;
    }
    if (err instanceof TraceBufferError) {
      console.error(`tracebuf: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));

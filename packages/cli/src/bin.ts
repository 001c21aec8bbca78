#!/usr/bin/env node
/**
 * `tracebuf` command line: `demo`, `record`, `report`. Exit codes: 0 done, 1 failed (a damaged
 * file, a failing script), 2 bad arguments.
 *
 * @packageDocumentation
 */
import { writeSync } from 'node:fs';
import { TraceBufferError } from '@tracebuf/core';
import { UsageError } from './args.js';
import { runDemo } from './demo.js';
import { RECORD_HELP, runRecord } from './record.js';
import { REPORT_HELP, runReport } from './report.js';

const DEMO_HELP = 'usage: tracebuf demo [--events N]\n\nWrites N events (default 2000) from the main thread, maps the buffer and drains it with\nGET_READER, printing what was read and the counters.\n';

const HELP = [
  'usage: tracebuf <command> [options]',
  '',
  'commands:',
  '  demo      the quick-start demo: write, map, GET_READER, counters',
  '  record    run a script or a piscina pool with tracing on; write a trace.dat',
  '  report    print a trace.dat or a raw sub-buffer file as text (or Chrome JSON)',
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

function demo(argv: readonly string[]): number {
  let events: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--events') events = Number(argv[++i]);
    else throw new UsageError(`unknown argument: ${argv[i]}`);
  }
  if (events !== undefined && (!Number.isInteger(events) || events < 0)) throw new UsageError(`--events must be a non-negative integer: events=${String(events)}`);
  const result = runDemo(events === undefined ? {} : { events });
  return result.read + result.lost === result.written ? 0 : 1;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const helps: Record<string, string> = { demo: DEMO_HELP, record: RECORD_HELP, report: REPORT_HELP };
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
    if (command === 'demo') return demo(rest);
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

/**
 * Text output like `trace_pipe` / `trace-cmd report`: one line per event with the thread, the
 * CPU, the timestamp, the event name and its fields; a `CPU:N [K EVENTS DROPPED]` line where
 * events were lost.
 *
 * @packageDocumentation
 */
import { fieldText } from '@tracebuf/core';
import { type Capture, type DecodedRecord, decodeCapture } from './capture.js';
import { clockIsNs } from './tracedat.js';

/** The timestamp as trace-cmd prints it: `sec.usec` for clocks in ns, the raw count otherwise. */
export function timestampText(timestamp: number, clock: string): string {
  if (!clockIsNs(clock)) return String(timestamp);
  // Rounded to the nearest µs, as trace-cmd prints it.
  let sec = Math.floor(timestamp / 1e9);
  let usec = Math.round((timestamp - sec * 1e9) / 1e3);
  if (usec === 1e6) {
    sec++;
    usec = 0;
  }
  return `${sec}.${String(usec).padStart(6, '0')}`;
}

/** One event's line (without the newline). */
export function eventLine(record: DecodedRecord, threads: ReadonlyMap<number, string>, clock: string): string {
  const e = record.event;
  // (pid 0 is the idle task in the kernel's traces; trace-cmd names it so.)
  const comm = threads.get(e.pid) ?? (e.pid === 0 ? '<idle>' : '<...>');
  const fields = Object.entries(e.fields)
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(' ');
  return `${comm.padStart(16)}-${String(e.pid).padEnd(7)} [${String(record.cpu).padStart(3, '0')}] ${timestampText(record.timestamp, clock).padStart(13)}: ${e.name}: ${fields}`;
}

/** The line trace-cmd prints for lost events before a sub-buffer. */
export function lostLine(cpu: number, lost: number): string {
  return lost > 0 ? `CPU:${cpu} [${lost} EVENTS DROPPED]` : `CPU:${cpu} [EVENTS DROPPED]`;
}

/** Writes the capture as text lines to `write` (one call per line, newline included). Returns the event count. */
export function writeText(capture: Capture, write: (line: string) => void): number {
  return decodeCapture(capture, (record) => {
    if (record.lostBefore !== 0) write(`${lostLine(record.cpu, record.lostBefore)}\n`);
    write(`${eventLine(record, capture.threads, capture.clock)}\n`);
  });
}

/** The capture as text (all lines). */
export function toText(capture: Capture): string {
  const lines: string[] = [];
  writeText(capture, (line) => lines.push(line));
  return lines.join('');
}

/**
 * `tracebuf stats <file>`: what a trace.dat or raw file holds — per CPU the sub-buffers, events,
 * lost events and time span; per event type the count.
 *
 * @packageDocumentation
 */
import { walkCapture } from '@tracebuf/formats';
import { type OptionSpec, UsageError, helpText, parseArgs } from './args.js';
import { REPORT_OPTIONS, loadCapture } from './report.js';

/** The options of `tracebuf stats` (those of report that say how to read a raw file). */
export const STATS_OPTIONS: readonly OptionSpec[] = REPORT_OPTIONS.filter((o) => ['subbuf-size', 'cpu', 'clock', 'formats'].includes(o.name));

/** The help of `tracebuf stats`. */
export const STATS_HELP = helpText(
  'usage: tracebuf stats [options] <file>',
  'Counts what a trace.dat or raw sub-buffer file holds: per cpu the sub-buffers, events, lost\nevents and the first and last timestamps; per event type the number of events.',
  STATS_OPTIONS,
);

/** Runs `tracebuf stats`; prints with `print`. */
export function runStats(argv: readonly string[], print: (line: string) => void): void {
  const parsed = parseArgs(argv, STATS_OPTIONS);
  if (parsed.positionals.length !== 1) throw new UsageError(parsed.positionals.length === 0 ? 'stats needs a file' : `stats takes one file: ${parsed.positionals.join(' ')}`);
  const capture = loadCapture(parsed.positionals[0]!, parsed);
  const perCpu = capture.cpus.map((c) => ({ subbufs: c.bytes.length / capture.subbufSize, events: 0, lost: 0, unknownLost: false, first: Number.NaN, last: Number.NaN }));
  const byId = new Map(capture.formats.map((f) => [f.id, `${f.system}:${f.name}`]));
  const perType = new Map<string, number>();
  walkCapture(capture, (r) => {
    const c = perCpu[r.cpu]!;
    c.events++;
    if (r.lostBefore > 0) c.lost += r.lostBefore;
    if (r.lostBefore < 0) c.unknownLost = true;
    if (Number.isNaN(c.first)) c.first = r.timestamp;
    c.last = r.timestamp;
    const id = r.length >= 2 ? r.bytes[r.offset]! | (r.bytes[r.offset + 1]! << 8) : -1;
    const name = byId.get(id) ?? (capture.formats.length === 0 ? 'raw' : `unknown id ${id}`);
    perType.set(name, (perType.get(name) ?? 0) + 1);
  });
  print(`${parsed.positionals[0]}: ${capture.cpus.length} cpus, ${capture.subbufSize}-byte sub-buffers, clock ${capture.clock}`);
  print('cpu  sub-buffers  events  lost  first ts  last ts');
  for (const [cpu, c] of perCpu.entries()) {
    if (c.subbufs === 0) continue;
    print(`${String(cpu).padStart(3)}  ${String(c.subbufs).padStart(11)}  ${String(c.events).padStart(6)}  ${`${c.lost}${c.unknownLost ? '+' : ''}`.padStart(4)}  ${c.first}  ${c.last}`);
  }
  print('events by type:');
  for (const [name, n] of [...perType].sort((a, b) => b[1] - a[1])) print(`  ${name}: ${n}`);
}

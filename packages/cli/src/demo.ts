/**
 * The README's main job: create a buffer, write from the main thread, map it, drain it with
 * GET_READER, print what was read and the counters.
 *
 * @packageDocumentation
 */
import { SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Events to write. */
  readonly events?: number;
  /** Where lines go (default: console.log). */
  readonly print?: (line: string) => void;
}

/** What the demo measured. */
export interface DemoResult {
  readonly written: number;
  readonly read: number;
  readonly lost: number;
  readonly subbufs: number;
}

/** Runs the demo; returns the counts so a test can check them. */
export function runDemo(options: DemoOptions = {}): DemoResult {
  const print = options.print ?? ((line: string) => console.log(line));
  const events = options.events ?? 2000;
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8, overwrite: true });
  print(`created ${tb}`);
  const m = tb.map(0);
  const p = tb.producer(0);
  const encoder = new TextEncoder();
  let written = 0;
  for (let i = 0; i < events; i++) {
    if (p.write(encoder.encode(`event ${i} from the main thread`))) written++;
  }
  print(`wrote ${written} events of ${events}`);

  const decoder = new TextDecoder();
  const r = new SubbufReader();
  let read = 0;
  let lost = 0;
  let subbufs = 0;
  let first = '';
  let last = '';
  let lastId = -1;
  let lastRead = 0;
  for (;;) {
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const { id, read: upTo } = m.meta.reader;
    const from = id === lastId ? lastRead : 0;
    if (upTo === from) break;
    r.load(m.bytes, m.subbufOffset(id), from, upTo);
    if (from === 0) {
      subbufs++;
      if (r.missedEvents) lost += Math.max(r.lostEvents, 0);
    }
    while (r.next()) {
      read++;
      const text = decoder.decode(m.bytes.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength)).replace(/\0+$/, '');
      if (first === '') first = `${r.timestamp} ns: ${text}`;
      last = `${r.timestamp} ns: ${text}`;
    }
    lastId = id;
    lastRead = upTo;
  }
  print(`drained ${subbufs} sub-buffers with GET_READER: ${read} events read, ${lost} reported lost`);
  print(`  oldest read: ${first}`);
  print(`  newest read: ${last}`);
  const meta = m.meta;
  print(`meta page: entries=${meta.entries} overrun=${meta.overrun} read=${meta.read} reader.id=${meta.reader.id} reader.read=${meta.reader.read}`);
  const s = tb.stats(0);
  print(`stats: entries=${s.entries} overrun=${s.overrun} bytes=${s.bytes} dropped=${s.droppedEvents} read=${s.readEvents}`);
  print(`check: read + lost = ${read + lost} = written ${written}: ${read + lost === written ? 'ok' : 'MISMATCH'}`);
  p.release();
  m.unmap();
  return { written, read, lost, subbufs };
}

/**
 * Non-consuming iteration (the kernel's `trace` file, `ring_buffer_read_start` /
 * `ring_buffer_iter_peek`): every unread event of every CPU buffer, in timestamp order, left in
 * place for consumers — while recording is paused or while it runs.
 *
 * Each CPU buffer is copied sub-buffer by sub-buffer under its reader lock (so no consumer swaps
 * pages meanwhile; producers keep writing). A sub-buffer the producer overwrites during the walk
 * is never returned: the walk knows how far each sub-buffer is from the head, and the producer
 * overwrites only from the head on, counting every sub-buffer it overwrites (`pages_lost`), so a
 * copy is kept only if fewer sub-buffers than its distance were lost by the time it was made.
 * Lost events are reported with the next event of that CPU.
 *
 * @packageDocumentation
 */
import type { CpuBuffer } from './cpu-buffer.js';
import type { TraceEvent } from './consumer.js';
import { SubbufReader } from './decoder.js';
import { InterleavePoint, interleaveHook } from './interleave.js';
import { COMMIT_LENGTH_MASK, READER_PAGE_INDEX, READER_READ_INDEX, linkId } from './layout.js';

/** One CPU's unread events, copied, in order. */
function copyUnread(cb: CpuBuffer, out: TraceEvent[]): void {
  const ctl = cb.ctl;
  const reader = ctl[READER_PAGE_INDEX]!;
  const first = cb.writerSnapshot();
  const overrunAtStart = first.overrun;
  const lostAtStart = first.pagesLost;
  const tail = first.tailPage;
  // The pages to walk: the rest of the reader sub-buffer, then the ring from the head to the tail.
  const pages: { id: number; from: number; distance: number }[] = [];
  const readerRead = ctl[READER_READ_INDEX]!;
  if (tail === reader || (cb.commitWord(reader) & COMMIT_LENGTH_MASK) > readerRead) {
    pages.push({ id: reader, from: readerRead, distance: Number.POSITIVE_INFINITY });
  }
  if (tail !== reader) {
    let id = cb.headPage();
    for (let distance = 0; distance < cb.nrSubbufs; distance++) {
      pages.push({ id, from: 0, distance });
      if (id === tail) break;
      id = linkId(cb.link, Atomics.load(ctl, cb.nextBase + id));
    }
  }
  // Each sub-buffer's event count, read now: a sub-buffer the producer overwrites later is
  // reported lost with this count. Sub-buffers it overwrote already before their count was read
  // (the first `early` of the walk) are reported with the overrun their overwrite added.
  const counts = pages.map((page) => cb.readPage(page.id).entries);
  const counted = cb.writerSnapshot();
  const early = counted.pagesLost - lostAtStart;
  let earlyLost = counted.overrun - overrunAtStart;
  const r = new SubbufReader();
  let lost = 0;
  const copy = new Uint8Array(cb.subbufSize);
  for (const [i, page] of pages.entries()) {
    if (interleaveHook !== undefined) interleaveHook(InterleavePoint.READER_ITERATE_PAGE, cb.cpu);
    const skip = (): void => {
      if (page.distance < early) {
        lost += earlyLost;
        earlyLost = 0;
      } else {
        lost += counts[i]!;
      }
    };
    if (cb.writerSnapshot().pagesLost - lostAtStart > page.distance) {
      skip();
      continue;
    }
    const { length } = cb.readPage(page.id);
    const at = cb.subbufOffset(page.id);
    copy.set(cb.u8.subarray(at, at + copy.length));
    // Overwritten while we copied: drop the copy, count its events as lost.
    if (cb.writerSnapshot().pagesLost - lostAtStart > page.distance) {
      skip();
      continue;
    }
    r.load(copy, 0, page.from, length);
    while (r.next()) {
      out.push({
        cpu: cb.cpu,
        timestamp: r.timestamp,
        payload: copy.slice(r.payloadOffset, r.payloadOffset + r.payloadLength),
        lostBefore: lost,
      });
      lost = 0;
    }
  }
}

/** What the iterator needs from its buffer. */
export interface IterateHost {
  readonly cpus: number;
  /** Runs `fn` on the live CPU buffer of `cpu` under its reader lock. */
  withReader<T>(cpu: number, fn: (cb: CpuBuffer) => T): T;
}

/**
 * Every unread event of every CPU buffer, merged in timestamp order, without consuming any.
 * `lostBefore` counts events of that CPU overwritten while the walk ran.
 */
export function* iterateEvents(host: IterateHost): Generator<TraceEvent, void, undefined> {
  const perCpu: TraceEvent[][] = [];
  for (let cpu = 0; cpu < host.cpus; cpu++) {
    const events: TraceEvent[] = [];
    host.withReader(cpu, (cb) => copyUnread(cb, events));
    perCpu.push(events);
  }
  const next = perCpu.map(() => 0);
  for (;;) {
    let best = -1;
    for (let cpu = 0; cpu < perCpu.length; cpu++) {
      const e = perCpu[cpu]![next[cpu]!];
      if (e !== undefined && (best < 0 || e.timestamp < perCpu[best]![next[best]!]!.timestamp)) best = cpu;
    }
    if (best < 0) return;
    yield perCpu[best]![next[best]!++]!;
  }
}

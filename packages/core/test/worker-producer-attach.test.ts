/**
 * The handle is structured-cloneable; a producer in a worker thread writes lock-free into shared
 * memory while this thread maps the same CPU buffer and drains it with GET_READER concurrently.
 * Invariant per CPU: events come out whole, in sequence order, and read + lost == written.
 */
import { Worker } from 'node:worker_threads';
import { LOST_EVENTS_UNKNOWN, SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { checkEvent } from './support/events.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

function startProducer(handle: unknown, data: Record<string, unknown>) {
  const w = new Worker(new URL('./fixtures/producer-worker.mjs', import.meta.url), { workerData: { handle, ...data } });
  workers.add(w);
  return new Promise<{ written: number; dropped: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('a producer worker and a consumer thread', () => {
  it.each([true, false])('overwrite=%s: every event read is whole, in order, and read + lost == written', async (overwrite) => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite });
    const copy = structuredClone(tb.handle);
    const m = TraceBuffer.attach(copy).map(0);
    const count = 200_000;
    const done = startProducer(tb.handle, { cpu: 0, count, minLength: 16, maxLength: 200, retryWhenFull: false });
    let finished: { written: number; dropped: number } | undefined;
    void done.then((r) => (finished = r));

    const r = new SubbufReader();
    let read = 0;
    let lost = 0;
    let unknownLoss = 0;
    let lastSeq = 0;
    let lastId = m.meta.reader.id;
    let lastRead = m.meta.reader.read;
    for (;;) {
      m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
      const { id, read: upTo } = m.meta.reader;
      if (id === lastId && upTo === lastRead) {
        if (finished !== undefined) {
          // One more pass after the producer is done catches its last commits.
          m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
          if (m.meta.reader.id === lastId && m.meta.reader.read === lastRead) break;
          continue;
        }
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const from = id === lastId ? lastRead : 0;
      r.load(m.bytes, m.subbufOffset(id), from, upTo);
      if (from === 0 && r.missedEvents) {
        expect(overwrite).toBe(true);
        // A count is stored when 8 bytes are left after the data; otherwise it is unknown.
        if (r.lostEvents === LOST_EVENTS_UNKNOWN) unknownLoss++;
        else lost += r.lostEvents;
      }
      while (r.next()) {
        const e = checkEvent(m.bytes, r.payloadOffset, r.payloadLength);
        expect(e.seq).toBeGreaterThan(lastSeq);
        lastSeq = e.seq;
        read++;
      }
      lastId = id;
      lastRead = upTo;
    }
    const result = await done;
    const stats = tb.stats(0);
    if (overwrite) {
      expect(result.written).toBe(count);
      expect(read + stats.overrun).toBe(count);
      if (unknownLoss === 0) expect(lost + stats.lostUnreported).toBe(stats.overrun);
      else expect(lost + stats.lostUnreported).toBeLessThan(stats.overrun);
    } else {
      expect(read + result.dropped).toBe(count);
      expect(stats.droppedEvents).toBe(result.dropped);
    }
    expect(stats.readEvents).toBe(read);
    expect(stats.entries).toBe(0);
  });
});

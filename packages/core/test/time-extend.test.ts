/**
 * Timestamps (kernel-semantics §2.4): the first event of a sub-buffer has delta 0 and the page stamp;
 * deltas that do not fit 27 bits (≥ 2^27 ns ≈ 134 ms) get a TIME_EXTEND in front
 * (`(array[0] << 27) + time_delta`, verified with a 200 ms gap); 50 ms fits in the header.
 */
import { EventType, SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';

function busyWaitMs(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* a clock gap, not synchronisation */
  }
}

describe('timestamps', () => {
  it('adds a TIME_EXTEND for a 200 ms gap and none for 50 ms', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, clock: 'mono' });
    const p = tb.producer(0);
    const m = tb.map(0);
    p.write(seqPayload(12, 1));
    busyWaitMs(50);
    p.write(seqPayload(12, 2));
    busyWaitMs(200);
    p.write(seqPayload(12, 3));
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const base = m.subbufOffset(m.meta.reader.id) + 16;
    const word = (at: number) => new DataView(m.bytes.buffer).getUint32(base + at, true);
    // Event 1 at 0 (delta 0), event 2 at 16 (delta ~50 ms in the header), extend at 32, event 3 at 40.
    expect(word(0) >>> 5).toBe(0);
    expect(word(16) & 0x1f).toBe(3);
    const delta2 = word(16) >>> 5;
    expect(delta2).toBeGreaterThanOrEqual(50e6);
    expect(word(32) & 0x1f).toBe(EventType.TIME_EXTEND);
    const extend = word(36) * 2 ** 27 + (word(32) >>> 5);
    expect(extend).toBeGreaterThanOrEqual(200e6);
    expect(word(40) >>> 5).toBe(0);
    expect(m.meta.reader.read).toBe(56);

    const r = new SubbufReader().load(m.bytes, m.subbufOffset(m.meta.reader.id));
    const ts: number[] = [];
    while (r.next()) ts.push(r.timestamp);
    expect(ts).toHaveLength(3);
    expect(ts[0]).toBe(r.pageTimeStamp);
    expect(ts[1]! - ts[0]!).toBe(delta2);
    expect(ts[2]! - ts[1]!).toBe(extend);
  });

  it("numbers events with the global 'counter' clock", () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 4, clock: 'counter' });
    const a = tb.producer(0);
    const b = tb.producer(1);
    for (let i = 0; i < 10; i++) (i % 3 === 0 ? b : a).write(seqPayload(12, i));
    const stamps: number[] = [];
    for (const cpu of [0, 1]) {
      const m = tb.map(cpu);
      m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
      const r = new SubbufReader().load(m.bytes, m.subbufOffset(m.meta.reader.id));
      while (r.next()) stamps.push(r.timestamp);
    }
    expect(stamps.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(tb.now()).toBe(10);
  });

  it("keeps the 'mono' clock monotonic per producer and near the buffer's now()", () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8 });
    const p = tb.producer(0);
    const m = tb.map(0);
    const before = tb.now();
    for (let i = 0; i < 500; i++) p.write(seqPayload(12, i));
    const after = tb.now();
    const stamps: number[] = [];
    const r = new SubbufReader();
    for (;;) {
      const prev = m.meta.reader;
      m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
      const { id, read } = m.meta.reader;
      if (id === prev.id && read === prev.read) break;
      r.load(m.bytes, m.subbufOffset(id), id === prev.id ? prev.read : 0, read);
      while (r.next()) stamps.push(r.timestamp);
    }
    expect(stamps).toHaveLength(500);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThanOrEqual(stamps[i - 1]!);
    expect(stamps[0]!).toBeGreaterThanOrEqual(before);
    expect(stamps[499]!).toBeLessThanOrEqual(after);
  });
});

/**
 * Reset (`echo > trace`, kernel-semantics §5.7, verified): allowed while mapped; the reader sub-buffer
 * keeps its id with length 0; the meta page is refreshed at once; every counter restarts.
 * Recording off (`tracing_on` = 0, §3.2): writes fail and change nothing.
 */
import { TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { drain, seqPayload } from './support/drain.js';

describe('reset', () => {
  it('empties a mapped buffer and refreshes the meta page at once', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const m = tb.map(0);
    const p = tb.producer(0);
    for (let i = 1; i <= 200; i++) p.write(seqPayload(108, i));
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const id = m.meta.reader.id;
    expect(m.meta.entries).toBe(200);

    tb.reset();
    const meta = m.meta;
    expect(meta.reader.id).toBe(id);
    expect([meta.entries, meta.overrun, meta.read, meta.reader.read]).toEqual([0, 0, 0, 0]);
    const s = tb.stats(0);
    expect([s.entries, s.overrun, s.bytes, s.readEvents, s.droppedEvents]).toEqual([0, 0, 0, 0, 0]);

    // The producer carries on after the reset, and the reader finds only new events.
    for (let i = 1; i <= 50; i++) expect(p.write(seqPayload(108, 1000 + i))).toBe(true);
    const calls = drain(m, { id, read: 0 });
    expect(calls.flatMap((c) => c.seqs)).toEqual(Array.from({ length: 50 }, (_, i) => 1001 + i));
    expect(calls.every((c) => !c.missed)).toBe(true);
    expect(m.meta.entries).toBe(50);
  });

  it('drops a reservation made before the reset', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    p.write(seqPayload(16, 1));
    const r = p.reserve(16);
    expect(r).not.toBeNull();
    tb.reset();
    expect(p.commit()).toBe(false);
    expect(tb.stats(0).entries).toBe(0);
    expect(p.write(seqPayload(16, 2))).toBe(true);
    expect(tb.stats(0).entries).toBe(1);
  });

  it('resets one cpu only when asked', () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 4 });
    const a = tb.producer(0);
    const b = tb.producer(1);
    a.write(seqPayload(16, 1));
    b.write(seqPayload(16, 1));
    tb.reset(1);
    expect(tb.stats(0).entries).toBe(1);
    expect(tb.stats(1).entries).toBe(0);
  });
});

describe('recording off', () => {
  it('makes writes and reserves fail without changing anything, and on again resumes', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    p.write(seqPayload(16, 1));
    tb.setRecording(false);
    expect(tb.recording).toBe(false);
    expect(p.write(seqPayload(16, 2))).toBe(false);
    expect(p.reserve(16)).toBeNull();
    const s = tb.stats(0);
    expect([s.entries, s.droppedEvents, s.overrun]).toEqual([1, 0, 0]);
    tb.setRecording(true);
    expect(p.write(seqPayload(16, 3))).toBe(true);
    expect(tb.stats(0).entries).toBe(2);
  });
});

/**
 * GET_READER (kernel-semantics §5.5): hands out the rest of the reader sub-buffer when it has unread
 * data, else swaps in at most one sub-buffer — the head — and refreshes the meta page, which
 * is not live in between (§5.2, verified: 16 writes left the counters at 0 until the ioctl).
 */
import { TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { drain, seqPayload } from './support/drain.js';

function setup(nrSubbufs = 6) {
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs });
  return { tb, m: tb.map(0), p: tb.producer(0) };
}

describe('GET_READER swaps the head', () => {
  it('leaves the meta page stale between calls', () => {
    const { m, p } = setup();
    for (let i = 0; i < 16; i++) p.write(seqPayload(12, i));
    expect(m.meta.entries).toBe(0);
    expect(m.meta.reader.read).toBe(0);
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.entries).toBe(16);
  });

  it('hands out more of the same sub-buffer while the producer is still on it', () => {
    const { m, p } = setup();
    for (let i = 0; i < 16; i++) p.write(seqPayload(12, i));
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    // 16 events of 12-byte payload: 16 bytes each (kernel §10 item 2 uses 20-byte events).
    expect(m.meta.reader).toEqual({ id: 1, read: 16 * 16, lostEvents: 0 });
    for (let i = 0; i < 4; i++) p.write(seqPayload(12, 16 + i));
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.reader).toEqual({ id: 1, read: 20 * 16, lostEvents: 0 });
    expect(m.meta.read).toBe(20);
  });

  it('swaps at most one sub-buffer per call, cycling ids through the ring', () => {
    const { m, p } = setup(5);
    // 4 ring sub-buffers; 36 events of 108 bytes fill one (36 * 112 = 4032, padding 48).
    let seq = 0;
    for (let i = 0; i < 36 * 3 + 5; i++) p.write(seqPayload(108, ++seq));
    const ids: number[] = [];
    const reads: number[] = [];
    for (let i = 0; i < 6; i++) {
      m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
      ids.push(m.meta.reader.id);
      reads.push(m.meta.read);
    }
    expect(ids).toEqual([1, 2, 3, 4, 4, 4]);
    expect(reads).toEqual([36, 72, 108, 113, 113, 113]);
    // Ids keep cycling: the old reader sub-buffers went back into the ring.
    for (let i = 0; i < 36 * 2; i++) p.write(seqPayload(108, ++seq));
    const later = drain(m, { id: 4, read: m.meta.reader.read });
    expect(later.map((c) => c.id)).toEqual([4, 0, 1]);
    expect(later.flatMap((c) => c.seqs)).toEqual(Array.from({ length: 72 }, (_, i) => 114 + i));
  });

  it('counts only data events as read, in O(1) from per-sub-buffer counts', () => {
    const { m, p, tb } = setup();
    for (let i = 0; i < 100; i++) p.write(seqPayload(i % 40, i));
    const calls = drain(m);
    const handedOut = calls.reduce((n, c) => n + c.events, 0);
    expect(handedOut).toBe(100);
    expect(m.meta.read).toBe(100);
    expect(tb.stats(0).readEvents).toBe(100);
  });

  it('does nothing on an empty buffer, and the reader id stays 0', () => {
    const { m } = setup();
    for (let i = 0; i < 3; i++) expect(m.ioctl(TRACE_MMAP_IOCTL_GET_READER)).toBe(0);
    expect(m.meta.reader).toEqual({ id: 0, read: 0, lostEvents: 0 });
  });

  it('shares one meta page between mappings of the same cpu', () => {
    const { tb, m, p } = setup();
    const other = tb.map(0);
    p.write(seqPayload(20, 1));
    other.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.reader.id).toBe(1);
    other.unmap();
    p.write(seqPayload(20, 2));
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.read).toBe(2);
  });
});

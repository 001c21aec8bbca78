/**
 * Overwrite mode (kernel-semantics §3.6, verified on Linux 6.18, §10 items 6–7): 400 events of 112
 * bytes (108-byte payloads) into a ring of 3 sub-buffers of 4 KiB. The kernel reports overrun
 * 324, stats entries 76 and bytes 8608; the first GET_READER hands out a sub-buffer whose commit
 * is 4032 (real_end: the end padding hidden) with both missed flags and the count 324 stored
 * after the data, first event 325; after draining, stats bytes 48 (the hidden padding) and read 76.
 */
import { RB_MISSED_EVENTS, RB_MISSED_STORED, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { drain, seqPayload } from './support/drain.js';

function fill(overwrite: boolean, count = 400) {
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite });
  const m = tb.map(0);
  const p = tb.producer(0);
  const results: boolean[] = [];
  for (let seq = 1; seq <= count; seq++) results.push(p.write(seqPayload(108, seq)));
  return { tb, m, p, results };
}

describe('overwrite pushes the head', () => {
  it('counts overwritten events as overrun, whole sub-buffers at a time', () => {
    const { tb, m, results } = fill(true);
    expect(results.every(Boolean)).toBe(true);
    const before = tb.stats(0);
    expect(before.overrun).toBe(324);
    expect(before.entries).toBe(76);
    expect(before.bytes).toBe(8608);
    expect(before.pagesLost).toBe(9);

    const calls = drain(m);
    const first = calls[0]!;
    expect(first.commitLength).toBe(4032);
    expect(first.missed).toBe(true);
    expect(first.lost).toBe(324);
    expect(first.seqs[0]).toBe(325);
    const commitWord = new DataView(m.bytes.buffer).getUint32(m.subbufOffset(first.id) + 8, true);
    expect(commitWord & RB_MISSED_EVENTS).not.toBe(0);
    expect(commitWord & RB_MISSED_STORED).not.toBe(0);
    // The high half of the 8-byte commit word is sign-extended as on x86-64.
    expect(new DataView(m.bytes.buffer).getUint32(m.subbufOffset(first.id) + 12, true)).toBe(0xffffffff);
    // Later sub-buffers carry no flags, and every surviving event comes out once, in order.
    expect(calls.slice(1).every((c) => !c.missed)).toBe(true);
    const seqs = calls.flatMap((c) => c.seqs);
    expect(seqs).toEqual(Array.from({ length: 76 }, (_, i) => 325 + i));
    expect(m.meta.reader.lostEvents).toBe(0);

    const after = tb.stats(0);
    expect(after.readEvents).toBe(76);
    expect(after.bytes).toBe(48);
    expect(after.entries).toBe(0);
    expect(m.meta.read + first.lost).toBe(400);
  });

  it('flags the loss on the first newly swapped sub-buffer when the reader holds a partly read one', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const m = tb.map(0);
    const p = tb.producer(0);
    let seq = 0;
    for (let i = 0; i < 10; i++) p.write(seqPayload(108, ++seq));
    const state = { id: 0, read: 0 };
    const early = drain(m, state);
    expect(early).toHaveLength(1);
    expect(early[0]!.missed).toBe(false);
    // The reader sub-buffer (id 1) is still the producer's: it keeps filling it, then wraps.
    for (let i = 0; i < 390; i++) p.write(seqPayload(108, ++seq));
    const calls = drain(m, state);
    const finishing = calls[0]!;
    expect(finishing.id).toBe(early[0]!.id);
    expect(finishing.missed).toBe(false);
    const swapped = calls[1]!;
    expect(swapped.missed).toBe(true);
    const total = early[0]!.events + calls.reduce((n, c) => n + c.events, 0) + swapped.lost;
    expect(total).toBe(400);
  });

  it('never lets the producer write into the reader sub-buffer', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const m = tb.map(0);
    const p = tb.producer(0);
    let seq = 0;
    for (let i = 0; i < 80; i++) p.write(seqPayload(108, ++seq));
    // One GET_READER takes the first, full sub-buffer; the producer is two sub-buffers on.
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const held = m.meta.reader.id;
    expect(tb.cpuBuffer(0).writerSnapshot().tailPage).not.toBe(held);
    const snapshot = m.subbuf(held).slice();
    for (let i = 0; i < 1000; i++) p.write(seqPayload(108, ++seq));
    expect(tb.stats(0).overrun).toBeGreaterThan(0);
    expect(m.subbuf(held)).toEqual(snapshot);
  });
});

describe('producer/consumer mode drops the newest', () => {
  it('keeps the first three sub-buffers and counts the rest as dropped', () => {
    const { tb, m, results } = fill(false);
    expect(results.filter((ok) => !ok)).toHaveLength(292);
    expect(results.slice(0, 108).every(Boolean)).toBe(true);
    const s = tb.stats(0);
    expect(s.droppedEvents).toBe(292);
    expect(s.overrun).toBe(0);
    const calls = drain(m);
    expect(calls.every((c) => !c.missed)).toBe(true);
    expect(calls.flatMap((c) => c.seqs)).toEqual(Array.from({ length: 108 }, (_, i) => i + 1));
    expect(m.meta.read + tb.stats(0).droppedEvents).toBe(400);
  });

  it('accepts writes again once the reader frees a sub-buffer', () => {
    const { tb, m, p } = fill(false);
    expect(p.write(seqPayload(108, 401))).toBe(false);
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    // The swap gave the old reader sub-buffer back to the ring.
    expect(p.write(seqPayload(108, 402))).toBe(true);
    expect(tb.stats(0).droppedEvents).toBe(293);
  });
});

/**
 * Resize (issue 4, kernel-semantics §1.3, §3.7): `resize({ nrSubbufs, cpu? })` keeps the contents as the
 * kernel does — new sub-buffers join as free space, removed ones are taken after the tail and
 * their unread events count as overrun — with ids staying 0..n-1; `setSubbufSize()` discards the
 * contents and recomputes the count to keep the capacity. Producers in other threads pick up
 * the new memory at their next write.
 */
import { Worker } from 'node:worker_threads';
import { TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { drain, seqPayload } from './support/drain.js';
import { checkEvent } from './support/events.js';
import { startEndlessProducer } from './support/endless.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

const seqOf = (payload: Uint8Array): number => new DataView(payload.buffer, payload.byteOffset).getUint32(8, true);

function drainSeqs(tb: TraceBuffer, cpu = 0): number[] {
  const out: number[] = [];
  tb.drainTo((c, _ts, payload) => c === cpu && out.push(seqOf(payload)));
  return out;
}

describe('resize', () => {
  it('growing keeps every event and adds room', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: false });
    const p = tb.producer(0);
    let seq = 0;
    while (p.write(seqPayload(108, seq + 1))) seq++;
    expect(seq).toBe(108);
    tb.resize({ nrSubbufs: 8 });
    expect(tb.geometry(0)).toEqual({ subbufSize: 4096, nrSubbufs: 8 });
    // Four more ring sub-buffers of 36 events fit now.
    let more = 0;
    while (p.write(seqPayload(108, seq + 1))) {
      seq++;
      more++;
    }
    expect(more).toBe(4 * 36);
    expect(drainSeqs(tb)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    expect(tb.map(0).meta.nrSubbufs).toBe(8);
  });

  it('shrinking drops the oldest unread sub-buffers as overrun and keeps ids below the new count', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 10, overwrite: true });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 2000; seq++) p.write(seqPayload(108, seq));
    const before = tb.stats(0);
    tb.resize({ nrSubbufs: 4 });
    const after = tb.stats(0);
    expect(after.overrun).toBeGreaterThan(before.overrun);
    expect(after.committed).toBe(2000);
    const m = tb.map(0);
    expect(m.meta.nrSubbufs).toBe(4);
    const calls = drain(m);
    for (const c of calls) expect(c.id).toBeLessThan(4);
    const seqs = calls.flatMap((c) => c.seqs);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    expect(seqs.at(-1)).toBe(2000);
    expect(m.meta.read + tb.stats(0).overrun).toBe(2000);
    // The ring keeps working at its new size.
    m.unmap();
    for (let seq = 2001; seq <= 3000; seq++) p.write(seqPayload(108, seq));
    const s = tb.stats(0);
    expect(s.committed).toBe(s.overrun + s.readEvents + s.entries);
    expect(drainSeqs(tb).at(-1)).toBe(3000);
  });

  it('shrinking while the reader holds a sub-buffer with a high id moves it', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8, overwrite: false });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 36 * 6; seq++) p.write(seqPayload(108, seq));
    const m = tb.map(0);
    const state = { id: 0, read: 0 };
    // Take five sub-buffers: the reader now holds id 5.
    for (let i = 0; i < 5; i++) m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.reader.id).toBe(5);
    state.id = 5;
    state.read = m.meta.reader.read;
    m.unmap();
    tb.resize({ nrSubbufs: 4 });
    const seqs = drainSeqs(tb);
    expect(seqs[0]).toBe(36 * 5 + 1);
    expect(seqs.at(-1)).toBe(36 * 6);
    expect(tb.stats(0).readEvents).toBe(36 * 6);
  });

  it('resizes one cpu only when asked', () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 4 });
    tb.resize({ nrSubbufs: 6, cpu: 1 });
    expect(tb.geometry(0).nrSubbufs).toBe(4);
    expect(tb.geometry(1).nrSubbufs).toBe(6);
  });

  it('producer workers keep writing across resizes and every event stays whole and in order', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 6, overwrite: true });
    const producer = startEndlessProducer(tb);
    const w = producer.worker;
    workers.add(w);
    let last = 0;
    let read = 0;
    const sizes = [12, 4, 20, 3, 9, 5, 16];
    for (const nrSubbufs of sizes) {
      await producer.until(producer.committed() + 3000);
      tb.resize({ nrSubbufs });
      expect(tb.geometry(0).nrSubbufs).toBe(nrSubbufs);
      tb.drainTo((_cpu, _ts, payload) => {
        const e = checkEvent(payload, 0, payload.length);
        expect(e.seq).toBeGreaterThan(last);
        last = e.seq;
        read++;
      });
    }
    await w.terminate();
    workers.delete(w);
    tb.recover(0);
    tb.drainTo((_cpu, _ts, payload) => {
      const e = checkEvent(payload, 0, payload.length);
      expect(e.seq).toBeGreaterThan(last);
      last = e.seq;
      read++;
    });
    const s = tb.stats(0);
    expect(s.readEvents).toBe(read);
    expect(s.committed).toBe(s.overrun + read);
  });
});

describe('setSubbufSize', () => {
  it('discards the contents and keeps the capacity by the kernel formula', () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 8 });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 100; seq++) p.write(seqPayload(100, seq));
    tb.setSubbufSize(8192);
    // nr_pages = ceil(7 * 4080 / 8176) = 4 ring sub-buffers (+ the reader one).
    expect(tb.geometry(0)).toEqual({ subbufSize: 8192, nrSubbufs: 5 });
    expect(tb.geometry(1)).toEqual({ subbufSize: 8192, nrSubbufs: 5 });
    expect(tb.stats(0).entries).toBe(0);
    expect(tb.stats(0).committed).toBe(0);
    // The producer picks up the new size: larger payloads fit now.
    expect(p.write(new Uint8Array(8000))).toBe(true);
    expect(p.maxPayload).toBe(8192 - 24);
    const m = tb.map(0);
    expect(m.meta.subbufSize).toBe(8192);
    expect(m.meta.metaPageSize).toBe(8192);
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.read).toBe(1);
    m.unmap();
    tb.setSubbufSize(4096);
    // ceil(4 * 8176 / 4080) = 9 ring sub-buffers: repeated changes drift upward, as in the kernel.
    expect(tb.geometry(0).nrSubbufs).toBe(10);
  });

  it('a producer worker writing meanwhile moves to the new memory', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 6, overwrite: true });
    const producer = startEndlessProducer(tb);
    const w = producer.worker;
    workers.add(w);
    await producer.until(2000);
    tb.setSubbufSize(16384);
    await producer.until(producer.committed() + 2000);
    await w.terminate();
    workers.delete(w);
    tb.recover(0);
    let last = 0;
    let read = 0;
    tb.drainTo((_cpu, _ts, payload) => {
      const e = checkEvent(payload, 0, payload.length);
      expect(e.seq).toBeGreaterThan(last);
      last = e.seq;
      read++;
    });
    expect(read).toBeGreaterThan(0);
    expect(tb.geometry(0).subbufSize).toBe(16384);
    const s = tb.stats(0);
    expect(s.committed).toBe(s.overrun + read);
  });
});

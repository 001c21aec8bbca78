/**
 * Non-consuming iteration (the kernel's `trace` file, issue 4): every unread event of every CPU
 * in timestamp order, left in place — while recording is paused or while it runs; events
 * overwritten during the walk are reported as lost, never returned corrupt.
 */
import { Worker } from 'node:worker_threads';
import { InterleavePoint, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, type TraceEvent, setInterleaveHook } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';
import { checkEvent } from './support/events.js';
import { startEndlessProducer } from './support/endless.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

const seqOf = (payload: Uint8Array): number => new DataView(payload.buffer, payload.byteOffset).getUint32(8, true);

describe('tb.iterate()', () => {
  it('returns every unread event of every cpu in timestamp order and consumes nothing', () => {
    const tb = TraceBuffer.create({ cpus: 3, subbufSize: 4096, nrSubbufs: 16, clock: 'counter' });
    const producers = [0, 1, 2].map((cpu) => tb.producer(cpu));
    for (let seq = 1; seq <= 1500; seq++) producers[(seq * 31) % 3]!.write(seqPayload(24 + (seq % 40), seq));
    const first = [...tb.iterate()];
    expect(first.map((e) => seqOf(e.payload))).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    expect(first.map((e) => e.timestamp)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    expect(first.every((e) => e.lostBefore === 0 && e.cpu === (seqOf(e.payload) * 31) % 3)).toBe(true);
    // Nothing was consumed: a second walk and a consuming drain see the same.
    expect([...tb.iterate()].map((e) => seqOf(e.payload))).toEqual(first.map((e) => seqOf(e.payload)));
    expect([0, 1, 2].map((cpu) => tb.stats(cpu).readEvents)).toEqual([0, 0, 0]);
    expect(tb.drainTo(() => undefined)).toBe(1500);
    expect([...tb.iterate()]).toEqual([]);
  });

  it('starts where the consuming reader stands, inside its reader sub-buffer', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8 });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 10; seq++) p.write(seqPayload(40, seq));
    const m = tb.map(0);
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    for (let seq = 11; seq <= 100; seq++) p.write(seqPayload(40, seq));
    expect([...tb.iterate()].map((e) => seqOf(e.payload))).toEqual(Array.from({ length: 90 }, (_, i) => 11 + i));
  });

  it('reports sub-buffers overwritten during the walk as lost and never returns them', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 5, overwrite: true });
    const p = tb.producer(0);
    let seq = 0;
    for (let i = 0; i < 36 * 4; i++) p.write(seqPayload(108, ++seq));
    // Between copying the first and the second sub-buffer, the producer overwrites two more.
    let pages = 0;
    setInterleaveHook((point) => {
      if (point === InterleavePoint.READER_ITERATE_PAGE && ++pages === 2) {
        for (let i = 0; i < 36 * 2; i++) p.write(seqPayload(108, ++seq));
      }
    });
    let events: TraceEvent[];
    try {
      events = [...tb.iterate()];
    } finally {
      setInterleaveHook(undefined);
    }
    const seqs = events.map((e) => seqOf(e.payload));
    const lost = events.reduce((n, e) => n + e.lostBefore, 0);
    // The producer pushed the head twice: sub-buffer 1 (1..36, already copied) and sub-buffer 2
    // (37..72, not yet copied: reported as 36 lost with the first event after it). The walk's
    // list was fixed at its start, so the new events (145..216) are not part of it.
    expect(seqs).toEqual([...Array.from({ length: 36 }, (_, i) => i + 1), ...Array.from({ length: 72 }, (_, i) => 73 + i)]);
    expect(lost).toBe(36);
    expect(events[36]!.lostBefore).toBe(36);
  });

  it('while a producer overwrites during the walk: never corrupt, losses counted', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const producer = startEndlessProducer(tb);
    workers.add(producer.worker);
    await producer.until(1000);
    let walks = 0;
    let returned = 0;
    let lostReported = 0;
    const until = Date.now() + Number(process.env.TRACEBUF_STRESS_MS ?? 1000);
    while (Date.now() < until) {
      let last = 0;
      for (const e of tb.iterate()) {
        const c = checkEvent(e.payload, 0, e.payload.length);
        expect(c.seq).toBeGreaterThan(last);
        if (e.lostBefore === 0 && last !== 0) expect(c.seq).toBe(last + 1);
        last = c.seq;
        returned++;
        lostReported += e.lostBefore;
      }
      walks++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(walks).toBeGreaterThan(1);
    expect(returned).toBeGreaterThan(0);
    // The walks consumed nothing.
    expect(tb.stats(0).readEvents).toBe(0);
    console.info(`iterate under overwrite: ${walks} walks, ${returned} events, ${lostReported} reported lost during walks`);
  });
});

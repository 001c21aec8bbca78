/**
 * Every thread of a producer pool is a producer of its own cpu slot: it claims the slot on its
 * first `poolProducer()`, keeps it for later tasks, and the slot is free again once the pool is
 * destroyed. The owner thread drains every event the threads committed.
 */
import { fileURLToPath } from 'node:url';
import { TraceBuffer } from '@tracebuf/core';
import { type ProducerPool, createProducerPool } from '@tracebuf/node/piscina';
import { afterEach, describe, expect, it } from 'vitest';
import { checkEvent } from '../../core/test/support/events.js';

const fixture = fileURLToPath(new URL('./fixtures/piscina-producer.mjs', import.meta.url));

interface WriteResult {
  readonly cpu: number;
  readonly threadId: number;
  readonly written: number;
  readonly dropped: number;
}

type Task = { kind: 'write'; count: number; barrier?: SharedArrayBuffer; parties?: number };

let pool: ProducerPool<Task, WriteResult> | undefined;
afterEach(async () => {
  await pool?.destroy();
  pool = undefined;
});

describe('producer pool threads', () => {
  it('each thread claims a slot of its own, keeps it, and every committed event drains intact', async () => {
    const threads = 3;
    // Room for every event of the test in each ring (no consumer runs meanwhile): at most
    // 1000 + 6 * 500 events of at most 100 bytes per cpu, in 255 sub-buffers of 4 KiB.
    const tb = TraceBuffer.create({ cpus: threads, subbufSize: 4096, nrSubbufs: 256, overwrite: false });
    const seqs = new SharedArrayBuffer(4 * threads);
    const p = createProducerPool<Task, WriteResult>({ tb, filename: fixture, minThreads: threads, maxThreads: threads, workerData: { seqs } });
    pool = p;

    // Round 1: a barrier holds every task until all have claimed, so each runs on its own thread.
    const barrier = new SharedArrayBuffer(4);
    const round1 = await Promise.all(
      Array.from({ length: threads }, () => p.run({ kind: 'write', count: 1000, barrier, parties: threads })),
    );
    expect(new Set(round1.map((r) => r.threadId)).size).toBe(threads);
    expect(new Set(round1.map((r) => r.cpu)).size).toBe(threads);
    const slotOf = new Map(round1.map((r) => [r.threadId, r.cpu]));
    expect(new Map(p.owners().map((o) => [o.threadId, o.cpu]))).toEqual(slotOf);

    // Round 2: whatever thread a task lands on, it writes the slot that thread claimed.
    const round2 = await Promise.all(Array.from({ length: 2 * threads }, () => p.run({ kind: 'write', count: 500 })));
    for (const r of round2) expect(r.cpu).toBe(slotOf.get(r.threadId));

    const written = new Array<number>(threads).fill(0);
    for (const r of [...round1, ...round2]) {
      expect(r.dropped).toBe(0);
      written[r.cpu]! += r.written;
    }
    // One writer per slot at a time and seq taken per cpu: each ring holds 1..written in order.
    const seen: number[][] = Array.from({ length: threads }, () => []);
    tb.drainTo((cpu, _ts, payload) => {
      const e = checkEvent(payload, 0, payload.length);
      expect(e.cpu).toBe(cpu);
      seen[cpu]!.push(e.seq);
    });
    for (let cpu = 0; cpu < threads; cpu++) {
      expect(seen[cpu]).toEqual(Array.from({ length: written[cpu]! }, (_, i) => i + 1));
      const s = tb.stats(cpu);
      expect(s.entries).toBe(0);
      expect(s.committed).toBe(written[cpu]);
      expect(s.readEvents).toBe(written[cpu]);
    }

    await p.destroy();
    pool = undefined;
    expect(p.owners()).toEqual([]);
    // The threads were idle (not inside a write) when destroy() terminated them: their slots
    // came back without a repair.
    expect(p.reclaimed).toEqual({ slots: threads, repaired: 0 });
    for (let cpu = 0; cpu < threads; cpu++) tb.producer(cpu).release();
  });

  it('a pool on some of the slots leaves the others to producers of the owner thread', async () => {
    const tb = TraceBuffer.create({ cpus: 3, subbufSize: 4096, nrSubbufs: 8, overwrite: false });
    const own = tb.producer(0);
    const seqs = new SharedArrayBuffer(4 * 3);
    const p = createProducerPool<Task, WriteResult>({ tb, filename: fixture, slots: [2, 1], minThreads: 1, workerData: { seqs } });
    pool = p;
    expect(p.piscina.maxThreads).toBe(2);
    const r = await p.run({ kind: 'write', count: 10 });
    expect(r.cpu).toBe(2);
    expect(own.cpu).toBe(0);
    own.release();
  });
});

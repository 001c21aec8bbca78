/**
 * A producer pool needs a slot per thread. By default a pool may claim every possible slot of
 * the buffer, and its threads bring slots online beyond those the buffer started with. With a
 * capped buffer (or a `slots` list) a thread that finds every slot of the pool owned by another
 * live thread fails its claim with `EBUSY`, which rejects its task (with the code kept across
 * the thread boundary); `maxThreads` never defaults above the pool's slots. Bad pool options and
 * `poolProducer()` outside a pool are `EINVAL`.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ErrorCode, TraceBuffer, TraceBufferError } from '@tracebuf/core';
import { type ProducerPool, createProducerPool, poolProducer } from '@tracebuf/node/piscina';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/piscina-producer.mjs', import.meta.url));

type Task = { kind: 'hold'; flag: SharedArrayBuffer } | { kind: 'write'; count: number; barrier: SharedArrayBuffer; parties: number };
interface HoldResult {
  readonly cpu: number;
  readonly threadId: number;
}

let pool: ProducerPool<Task, HoldResult> | undefined;
afterEach(async () => {
  await pool?.destroy();
  pool = undefined;
});

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
  return undefined;
}

describe('more pool threads than slots', () => {
  it('threads beyond the slots online bring slots online; each writes its own ring', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8 });
    const seqs = new SharedArrayBuffer(4 * 8);
    const parties = 3;
    const count = 200;
    const p = createProducerPool<Task, { cpu: number; written: number }>({ tb, filename: fixture, minThreads: parties, maxThreads: parties, workerData: { seqs } });
    pool = p as unknown as ProducerPool<Task, HoldResult>;
    const barrier = new SharedArrayBuffer(4);
    const results = await Promise.all(Array.from({ length: parties }, () => p.run({ kind: 'write', count, barrier, parties })));
    expect(results.map((r) => r.cpu).sort()).toEqual([0, 1, 2]);
    expect(results.every((r) => r.written === count)).toBe(true);
    expect(tb.cpus).toBe(parties);
    const perCpu = [0, 0, 0];
    tb.drainTo((cpu) => perCpu[cpu]!++);
    expect(perCpu).toEqual([count, count, count]);
  });

  it('the thread left without a slot rejects its task with EBUSY; the other keeps writing', async () => {
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = createProducerPool<Task, HoldResult>({ tb, filename: fixture, minThreads: 2, maxThreads: 2 });
    pool = p;
    expect(p.piscina.maxThreads).toBe(2);
    // Two tasks at once on two idle threads: each claims; the one that gets the slot holds its
    // task until `flag` is set, so the other one can only fail.
    const flag = new SharedArrayBuffer(4);
    const tasks = [p.run({ kind: 'hold', flag }), p.run({ kind: 'hold', flag })];
    const first = await Promise.race(tasks.map((t) => t.then((r) => ({ r }), (err: unknown) => ({ err }))));
    expect('err' in first).toBe(true);
    const err = (first as { err: unknown }).err;
    expect(err).toBeInstanceOf(TraceBufferError);
    expect((err as TraceBufferError).code).toBe(ErrorCode.EBUSY);
    expect(p.owners()).toMatchObject([{ cpu: 0, exiting: false }]);

    Atomics.store(new Int32Array(flag), 0, 1);
    Atomics.notify(new Int32Array(flag), 0);
    const settled = await Promise.allSettled(tasks);
    const held = settled.filter((s) => s.status === 'fulfilled');
    expect(held.map((s) => s.value.cpu)).toEqual([0]);
    expect(held[0]!.value.threadId).toBe(p.owners()[0]!.threadId);
  });

  it("maxThreads defaults to piscina's, but no more than the pool's slots", async () => {
    const tb = TraceBuffer.create({ cpus: 3, subbufSize: 4096, nrSubbufs: 4 });
    pool = createProducerPool<Task, HoldResult>({ tb, filename: fixture, minThreads: 0 });
    expect(pool.piscina.maxThreads).toBe(Math.floor(availableParallelism() * 1.5));
    await pool.destroy();
    pool = createProducerPool<Task, HoldResult>({ tb: TraceBuffer.create({ cpus: 1, maxCpus: 1, nrSubbufs: 4 }), filename: fixture, minThreads: 0 });
    expect(pool.piscina.maxThreads).toBe(1);
    await pool.destroy();
    pool = createProducerPool<Task, HoldResult>({ tb, filename: fixture, minThreads: 0, slots: [1] });
    expect(pool.piscina.maxThreads).toBe(1);
  });

  it('bad pool options and poolProducer() outside a pool thread are EINVAL', () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 4 });
    const make = (extra: Record<string, unknown>) => () =>
      createProducerPool({ tb, filename: fixture, minThreads: 0, ...extra } as Parameters<typeof createProducerPool>[0]);
    expect(codeOf(make({ slots: [] }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(make({ slots: [0, 0] }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(make({ slots: [128] }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(make({ claimWaitMs: -1 }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(make({ tb: tb.handle }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(() => poolProducer())).toBe(ErrorCode.EINVAL);
  });
});

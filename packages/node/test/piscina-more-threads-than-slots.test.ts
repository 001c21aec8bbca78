/**
 * A producer pool needs a slot per thread: a thread that finds every slot of the pool owned by
 * another live thread fails its claim with `EBUSY`, which rejects its task (with the code kept
 * across the thread boundary). `maxThreads` defaults to the number of slots so that the default
 * pool never gets there; bad pool options and `poolProducer()` outside a pool are `EINVAL`.
 */
import { fileURLToPath } from 'node:url';
import { ErrorCode, TraceBuffer, TraceBufferError } from '@tracebuf/core';
import { type ProducerPool, createProducerPool, poolProducer } from '@tracebuf/node/piscina';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/piscina-producer.mjs', import.meta.url));

type Task = { kind: 'hold'; flag: SharedArrayBuffer };
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
  it('the thread left without a slot rejects its task with EBUSY; the other keeps writing', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
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

  it('maxThreads defaults to the number of slots', async () => {
    const tb = TraceBuffer.create({ cpus: 3, subbufSize: 4096, nrSubbufs: 4 });
    pool = createProducerPool<Task, HoldResult>({ tb, filename: fixture, minThreads: 0 });
    expect(pool.piscina.maxThreads).toBe(3);
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
    expect(codeOf(make({ slots: [2] }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(make({ claimWaitMs: -1 }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(make({ tb: tb.handle }))).toBe(ErrorCode.EINVAL);
    expect(codeOf(() => poolProducer())).toBe(ErrorCode.EINVAL);
  });
});

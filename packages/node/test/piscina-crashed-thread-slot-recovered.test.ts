/**
 * A pool thread that ends while owning a slot — it calls process.exit(), dies of an uncaught
 * exception, or is terminated in the middle of a write — gives the slot back: the ring stays
 * consistent (every event intact, sequences increase, `committed == overrun + read`), the
 * half-written event never shows, and the next thread claims the slot and continues.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { TraceBuffer } from '@tracebuf/core';
import { type ProducerPool, type SlotReclaim, createProducerPool } from '@tracebuf/node/piscina';
import { afterEach, describe, expect, it } from 'vitest';
import { checkEvent } from '../../core/test/support/events.js';

const fixture = fileURLToPath(new URL('./fixtures/piscina-producer.mjs', import.meta.url));

type Task =
  | { kind: 'write'; count: number }
  | { kind: 'exit'; count: number; code: number }
  | { kind: 'crash'; count: number }
  | { kind: 'endless'; progress: SharedArrayBuffer };

interface WriteResult {
  readonly cpu: number;
  readonly threadId: number;
  readonly written: number;
  readonly dropped: number;
}

let pool: ProducerPool<Task, WriteResult> | undefined;
afterEach(async () => {
  await pool?.destroy();
  pool = undefined;
});

/** One thread, one slot: whatever thread runs next takes over the same ring. */
function singleSlotPool(overwrite: boolean): { tb: TraceBuffer; p: ProducerPool<Task, WriteResult>; reclaims: SlotReclaim[] } {
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: overwrite ? 4 : 64, overwrite });
  const p = createProducerPool<Task, WriteResult>({
    tb,
    filename: fixture,
    minThreads: 1,
    maxThreads: 1,
    workerData: { seqs: new SharedArrayBuffer(4) },
  });
  pool = p;
  const reclaims: SlotReclaim[] = [];
  p.on('reclaim', (r) => reclaims.push(r));
  return { tb, p, reclaims };
}

/**
 * Drains slot 0 and checks it: every event intact, sequences above `lastSeq` and increasing,
 * nothing left, every committed event read or counted as overrun. Returns the last sequence.
 */
function drainChecked(tb: TraceBuffer, lastSeq: number, readBefore: number): { lastSeq: number; read: number; seqs: number[] } {
  const seqs: number[] = [];
  tb.drainTo((cpu, _ts, payload) => {
    const e = checkEvent(payload, 0, payload.length);
    expect(e.cpu).toBe(cpu);
    expect(e.seq).toBeGreaterThan(lastSeq);
    lastSeq = e.seq;
    seqs.push(e.seq);
  });
  const read = readBefore + seqs.length;
  const s = tb.stats(0);
  expect(s.entries).toBe(0);
  expect(s.readEvents).toBe(read);
  expect(s.committed).toBe(s.overrun + read);
  return { lastSeq, read, seqs };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('a pool thread that ends while owning a slot', () => {
  it('process.exit() in a task: the slot is free when the task rejects, the next thread continues the ring', async () => {
    const { tb, p } = singleSlotPool(false);
    await expect(p.run({ kind: 'exit', count: 300, code: 7 })).rejects.toThrow();
    expect(p.owners()).toEqual([]);
    const next = await p.run({ kind: 'write', count: 200 });
    expect(next).toMatchObject({ cpu: 0, written: 200 });
    // The exiting thread finished each write before process.exit(): nothing is missing.
    expect(drainChecked(tb, 0, 0).seqs).toEqual(range(1, 500));
  });

  it('an uncaught exception: the slot is free once the thread has exited, the next thread continues the ring', async () => {
    const { tb, p, reclaims } = singleSlotPool(false);
    const exited = once(p, 'threadExit');
    await expect(p.run({ kind: 'crash', count: 300 })).rejects.toThrow('crash after writing');
    const [threadId] = (await exited) as [number];
    // Node runs the worker's 'exit' handlers on an uncaught exception, so the thread usually
    // gave the slot back itself; if the owner thread had to, it was a take-back without repair
    // (the thread died idle in its event loop, not inside a write).
    expect(reclaims.filter((r) => r.threadId !== threadId || r.cpu !== 0 || r.repaired)).toEqual([]);
    expect(p.owners()).toEqual([]);
    const next = await p.run({ kind: 'write', count: 200 });
    expect(next).toMatchObject({ cpu: 0, written: 200 });
    expect(next.threadId).not.toBe(threadId);
    expect(drainChecked(tb, 0, 0).seqs).toEqual(range(1, 500));
  });

  it('terminated (task aborted) while writing in a tight loop, round after round, over a ring that wraps', async () => {
    const rounds = Number(process.env.TRACEBUF_POOL_ROUNDS ?? 5);
    const { tb, p, reclaims } = singleSlotPool(true);
    let lastSeq = 0;
    let read = 0;
    for (let round = 0; round < rounds; round++) {
      const progress = new SharedArrayBuffer(4);
      const counter = new Int32Array(progress);
      const ac = new AbortController();
      const exited = once(p, 'threadExit');
      const running = p.run({ kind: 'endless', progress }, { signal: ac.signal }).then(
        () => new Error('the endless task returned'),
        (err: unknown) => err,
      );
      // Let it wrap the 4-sub-buffer ring a few times, then stop it wherever it is.
      while (Atomics.load(counter, 0) < 2000 + round * 997) await new Promise((resolve) => setImmediate(resolve));
      ac.abort();
      expect(((await running) as Error).name).toBe('AbortError');
      const [threadId] = (await exited) as [number];
      // It held the slot when it was terminated: the slot was taken back with tb.recover.
      expect(reclaims.at(-1)).toMatchObject({ cpu: 0, threadId });
      expect(p.owners()).toEqual([]);
      ({ lastSeq, read } = drainChecked(tb, lastSeq, read));
    }
    expect(reclaims).toHaveLength(rounds);
    // A new thread (piscina's replacement) claims the slot and the ring goes on.
    const next = await p.run({ kind: 'write', count: 100 });
    expect(next).toMatchObject({ cpu: 0, written: 100 });
    const after = drainChecked(tb, lastSeq, read);
    expect(after.seqs).toEqual(range(after.seqs[0]!, after.seqs[0]! + 99));
  });

  it('a replacement thread that claims while the old owner is still exiting waits for the slot', async () => {
    // Overwrite mode: the endless writer may fill the ring before it is stopped, and the
    // replacement's writes must still go in. One possible slot: the replacement cannot bring
    // another online, it has to wait for this one.
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const p = createProducerPool<Task, WriteResult>({
      tb,
      filename: fixture,
      minThreads: 1,
      maxThreads: 1,
      workerData: { seqs: new SharedArrayBuffer(4), eagerClaim: true },
    });
    pool = p;
    const progress = new SharedArrayBuffer(4);
    const counter = new Int32Array(progress);
    const ac = new AbortController();
    const running = p.run({ kind: 'endless', progress }, { signal: ac.signal }).catch((err: unknown) => err);
    while (Atomics.load(counter, 0) < 1000) await new Promise((resolve) => setImmediate(resolve));
    ac.abort();
    // piscina has marked the old thread destroyed (its slot: exiting) and started a replacement
    // that claims as it starts. This thread does not return to its event loop until the
    // replacement is waiting, so the old thread's exit cannot have been handled yet.
    const deadline = performance.now() + 20_000;
    while (p.claimsWaiting === 0) {
      if (performance.now() > deadline) throw new Error('the replacement thread never waited for the slot');
    }
    expect(p.owners()).toMatchObject([{ cpu: 0, exiting: true }]);
    // Handling the exit takes the slot back and wakes the waiting claim.
    const next = await p.run({ kind: 'write', count: 50 });
    expect(next).toMatchObject({ cpu: 0, written: 50 });
    expect(p.claimsWaiting).toBe(0);
    expect(((await running) as Error).name).toBe('AbortError');
    drainChecked(tb, 0, 0);
  });
});

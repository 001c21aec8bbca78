/**
 * The worker side of a producer pool: each pool thread claims one cpu slot of the buffer (on
 * first use), records itself as the slot's owner in the pool's slot table, and gives the slot
 * back when it ends. Use it from the task file of a pool made by `createProducerPool()`.
 *
 * @packageDocumentation
 */
import { threadId, workerData } from 'node:worker_threads';
import { ErrorCode, type Producer, TraceBuffer, TraceBufferError } from '@tracebuf/core';
import { GENERATION_INDEX, WAITING_INDEX, type PoolInfo, bumpGeneration, isPoolWorkerData, ownerIndex, tokenIndex } from './pool-table.js';

/** This thread's pool state (one per thread: a pool thread belongs to one pool). */
interface ThreadState {
  readonly info: PoolInfo;
  readonly tb: TraceBuffer;
  readonly table: Int32Array;
  producer: Producer | undefined;
  exitHook: boolean;
}

let state: ThreadState | undefined;

function threadState(): ThreadState {
  if (state !== undefined) return state;
  if (!isPoolWorkerData(workerData)) {
    throw new TraceBufferError(
      ErrorCode.EINVAL,
      `not a producer pool thread (no pool in workerData; create the pool with createProducerPool()): threadId=${threadId}`,
    );
  }
  const info = workerData.tracebufPool;
  state = { info, tb: TraceBuffer.attach(info.handle), table: new Int32Array(info.table), producer: undefined, exitHook: false };
  return state;
}

/**
 * This thread's producer: the slot it claimed, or a slot claimed now (the first free one of the
 * pool's slots). The slot stays this thread's until the thread ends (or
 * {@link releasePoolProducer}); the pool's owner thread takes it back when the thread exits,
 * also when it crashed or was terminated in the middle of a write.
 *
 * Call it inside a task: a claim that fails then rejects that task. (Called at the top level of
 * the task file, it claims when the thread starts, but a failed claim then fails the thread's
 * start-up, which piscina reports as a pool `'error'`.)
 *
 * More threads than slots: by default a pool may claim every possible slot of the buffer, and
 * the thread brings the next one online when the online ones are owned. A thread that finds
 * every slot of the pool's `slots` list owned by a live thread throws a `TraceBufferError` with
 * code `EBUSY` (the task rejects with it). A slot whose owner is being torn down (piscina
 * already replaced the thread) is waited for, up to the pool's `claimWaitMs`, before `EBUSY`.
 *
 * Throws `EINVAL` outside a producer pool thread.
 */
export function poolProducer(): Producer {
  const s = threadState();
  const current = s.producer;
  if (current !== undefined && !current.released) return current;
  if (current !== undefined) forget(s, current.cpu); // released directly with producer.release()
  const p = claim(s);
  s.producer = p;
  if (!s.exitHook) {
    s.exitHook = true;
    // Runs on process.exit() in the worker and when its event loop ends; not on terminate()
    // (the owner thread takes the slot back then).
    process.once('exit', releasePoolProducer);
  }
  return p;
}

/**
 * Gives this thread's slot back now (no-op when it holds none). A later {@link poolProducer}
 * claims again, maybe another slot. Do not call it with a reservation pending.
 */
export function releasePoolProducer(): void {
  const s = state;
  const p = s?.producer;
  if (s === undefined || p === undefined) return;
  s.producer = undefined;
  p.release();
  forget(s, p.cpu);
}

/** The user's `workerData` of the pool (`createProducerPool({ workerData })`). */
export function poolWorkerData<T = unknown>(): T {
  return isPoolWorkerData(workerData) ? (workerData.data as T) : (workerData as T);
}

/** The pool's buffer, attached in this thread (`EINVAL` outside a producer pool thread). */
export function poolBuffer(): TraceBuffer {
  return threadState().tb;
}

/** Clears this thread's entry for `cpu` (after the buffer's claim was given back). */
function forget(s: ThreadState, cpu: number): void {
  const t = s.table;
  Atomics.store(t, tokenIndex(s.tb.maxCpus, cpu), 0);
  // The owner thread may have marked the entry "being torn down" (−threadId) meanwhile.
  if (Atomics.compareExchange(t, ownerIndex(cpu), threadId, 0) !== threadId) {
    Atomics.compareExchange(t, ownerIndex(cpu), -threadId, 0);
  }
  bumpGeneration(t);
}

/**
 * Claims a slot: OWNER first (so other pool threads keep off it and the owner thread knows
 * whose it is if we die now), then the buffer's claim, then TOKEN (see pool-table.ts).
 */
function claim(s: ThreadState): Producer {
  const { tb, table, info } = s;
  const deadline = performance.now() + info.claimWaitMs;
  for (;;) {
    const generation = Atomics.load(table, GENERATION_INDEX);
    let tornDown = false;
    for (const cpu of info.slots) {
      const owner = Atomics.load(table, ownerIndex(cpu));
      if (owner < 0) tornDown = true;
      if (owner !== 0 || Atomics.compareExchange(table, ownerIndex(cpu), 0, threadId) !== 0) continue;
      let p: Producer;
      try {
        p = tb.producer(cpu);
      } catch (err) {
        Atomics.store(table, ownerIndex(cpu), 0);
        // Claimed outside the pool (a producer of another thread): try the next slot.
        if (err instanceof TraceBufferError && err.code === ErrorCode.EBUSY) continue;
        throw err;
      }
      Atomics.store(table, tokenIndex(tb.maxCpus, cpu), p.token);
      return p;
    }
    const left = deadline - performance.now();
    if (!tornDown || left <= 0) {
      throw new TraceBufferError(
        ErrorCode.EBUSY,
        `no free cpu slot for this pool thread (every slot of the pool is owned by another live thread; ` +
          `give the pool more slots, or the buffer a larger maxCpus): slots=${info.slots.length}`,
      );
    }
    // A slot comes back when the owner thread has seen its old owner exit.
    Atomics.add(table, WAITING_INDEX, 1);
    try {
      Atomics.wait(table, GENERATION_INDEX, generation, left);
    } finally {
      Atomics.sub(table, WAITING_INDEX, 1);
    }
  }
}

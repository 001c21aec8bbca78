/**
 * The slot table of producer pools: which pool thread owns which cpu slot of a buffer, shared
 * by the pool's owner thread and its worker threads (one SharedArrayBuffer of Int32 words).
 *
 * ```
 *   word  0                    GENERATION   bumped (and notified) whenever an entry is freed
 *   word  1                    WAITING      claims now waiting for an entry to be freed
 *   words 2..15                (unused: keeps the owner words off the generation's cache line)
 *   words 16 .. 16+cpus−1      OWNER[cpu]   0 free · threadId: owned · −threadId: owner being torn down
 *   words 16+cpus .. +cpus−1   TOKEN[cpu]   the claim token the owner got from the buffer (0 until known)
 *
 * (`cpus` here is the buffer's `maxCpus`: every possible slot has its entries.)
 * ```
 *
 * Claim order (worker): `OWNER 0 → threadId` by compare-and-swap, then `tb.producer(cpu)`, then
 * TOKEN. Release order (worker, or the owner thread after the worker's exit): the buffer's claim,
 * then TOKEN, then OWNER, then GENERATION. An OWNER entry therefore always covers the buffer
 * claim it stands for, and a thread that dies between two steps leaves an entry that says whose
 * it was.
 *
 * @packageDocumentation
 */
import type { TraceBufferHandle } from '@tracebuf/core';

/** Int32 index of the generation word (waiters for a free entry `Atomics.wait` on it). */
export const GENERATION_INDEX = 0;
/** Int32 index of the count of claims waiting on the generation word (diagnostics, tests). */
export const WAITING_INDEX = 1;
/** Int32 index of `OWNER[0]`; one cache line (64 bytes) after the generation word. */
export const OWNER_BASE_INDEX = 16;

/** Int32 index of `OWNER[cpu]`. */
export function ownerIndex(cpu: number): number {
  return OWNER_BASE_INDEX + cpu;
}

/** Int32 index of `TOKEN[cpu]` in a table of `cpus` slots. */
export function tokenIndex(cpus: number, cpu: number): number {
  return OWNER_BASE_INDEX + cpus + cpu;
}

/** Bytes of a table for `cpus` slots. */
export function poolTableLength(cpus: number): number {
  return (OWNER_BASE_INDEX + 2 * cpus) * Int32Array.BYTES_PER_ELEMENT;
}

/** Frees an entry's waiters: bumps the generation and wakes every claim waiting for a slot. */
export function bumpGeneration(table: Int32Array): void {
  Atomics.add(table, GENERATION_INDEX, 1);
  Atomics.notify(table, GENERATION_INDEX);
}

/** What the pool's owner thread hands to its workers (inside piscina's `workerData`). */
export interface PoolInfo {
  readonly kind: 'tracebuf-pool';
  readonly version: 1;
  /** The buffer, to `TraceBuffer.attach()` in the worker. */
  readonly handle: TraceBufferHandle;
  /** The slot table (see the module doc). */
  readonly table: SharedArrayBuffer;
  /** The cpu slots the pool's threads may claim, in order of preference. */
  readonly slots: readonly number[];
  /** How long a claim waits for a slot whose owner thread is being torn down. */
  readonly claimWaitMs: number;
}

/** The `workerData` a producer pool's threads get: the pool's part and the user's. */
export interface PoolWorkerData {
  readonly tracebufPool: PoolInfo;
  readonly data: unknown;
}

/** True when `value` looks like {@link PoolWorkerData}. */
export function isPoolWorkerData(value: unknown): value is PoolWorkerData {
  const info = (value as { tracebufPool?: Partial<PoolInfo> } | null | undefined)?.tracebufPool;
  return (
    info !== undefined &&
    info !== null &&
    typeof info === 'object' &&
    info.kind === 'tracebuf-pool' &&
    info.version === 1 &&
    info.table instanceof SharedArrayBuffer &&
    Array.isArray(info.slots)
  );
}

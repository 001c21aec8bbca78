/**
 * Typed access to fixtures/stress-consume.mjs (the stress consumer shared by the main thread and
 * consumer workers; workers run plain JS, so the implementation is a fixture), and the worker
 * plumbing of the stress test.
 */
import { Worker } from 'node:worker_threads';
import type { TraceBufferHandle } from '@tracebuf/core';

/** Gap rules of the consumer: see StressConsumer in stress-consume.mjs. */
export type StressMode = 'overwrite' | 'retry' | 'drop';
/** How a consumer waits when a GET_READER hands out nothing. */
export type StressWait = 'spin' | 'wait0' | 'wait';

/** One CPU's shared progress, as readCpuState() copies it. */
export interface CpuProgress {
  readonly LAST_ID: number;
  readonly LAST_READ: number;
  readonly LAST_SEQ: number;
  readonly READ: number;
  readonly GAP_TOTAL: number;
  readonly STORED_LOST: number;
  readonly UNFLAGGED_GAP: number;
  readonly MISATTRIBUTED: number;
  readonly FLAGGED_PAGES: number;
  readonly UNKNOWN_PAGES: number;
  readonly HANDOUTS: number;
  readonly SWAPS: number;
  readonly CONTENDED: number;
  readonly READ_BY: readonly number[];
}

/** A StressConsumer instance, as far as the test drives it. */
export interface StressConsumerApi {
  close(): void;
}

/** The exports of stress-consume.mjs the test uses. */
export interface StressLib {
  readonly Ctl: { readonly STOP: number; readonly DONE: number };
  createState(cpus: number): SharedArrayBuffer;
  controlOf(state: SharedArrayBuffer): Int32Array;
  readCpuState(state: SharedArrayBuffer, cpu: number): CpuProgress;
  readonly StressConsumer: new (options: {
    handle: TraceBufferHandle;
    state: SharedArrayBuffer;
    cpus: readonly number[];
    index: number;
    mode: StressMode;
    strict: boolean;
  }) => StressConsumerApi;
  runAsync(consumer: StressConsumerApi, wait: StressWait): Promise<void>;
}

/** Loads the stress consumer library (a JS fixture, so it is typed here). */
export async function loadStressLib(): Promise<StressLib> {
  const url = new URL('../fixtures/stress-consume.mjs', import.meta.url).href;
  return (await import(url)) as StressLib;
}

/** What a producer worker reports when it stops. */
export interface ProducerResult {
  /** Events tried (an event retried until it was written counts once). */
  readonly attempts: number;
  /** Events committed. */
  readonly written: number;
  /** `write()` calls that returned false. */
  readonly failed: number;
}

/** Starts a worker from fixtures/`name` and adds it to `workers` (terminated by the test's afterEach). */
export function startWorker(name: string, workerData: unknown, workers: Set<Worker>): Worker {
  const w = new Worker(new URL(`../fixtures/${name}`, import.meta.url), { workerData });
  workers.add(w);
  return w;
}

/** Resolves with the next message of the worker that satisfies `accept`; rejects on error or early exit. */
export function nextMessage<T>(w: Worker, accept: (m: unknown) => boolean = () => true): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (!accept(m)) return;
      cleanup();
      resolve(m as T);
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`worker exited with code ${code} before the expected message`));
    };
    const cleanup = (): void => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}

/** Messages of type `type` ({ type: string }). */
export function ofType(type: string): (m: unknown) => boolean {
  return (m) => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}

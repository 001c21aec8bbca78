/** Starts fixtures/endless-producer.mjs on cpu 0 of `tb`, and waits for its commits to pass a mark. */
import { Worker } from 'node:worker_threads';
import type { TraceBuffer } from '@tracebuf/core';

/** An endless checked-event producer worker and the shared count of its commits. */
export interface EndlessProducer {
  readonly worker: Worker;
  /** Commits so far. */
  committed(): number;
  /** Resolves once the producer has committed at least `count` events (yielding meanwhile). */
  until(count: number): Promise<void>;
}

/** Starts the producer; the caller adds `worker` to its set and terminates it. */
export function startEndlessProducer(tb: TraceBuffer): EndlessProducer {
  const progress = new SharedArrayBuffer(4);
  const worker = new Worker(new URL('../fixtures/endless-producer.mjs', import.meta.url), {
    workerData: { handle: tb.handle, cpu: 0, progress },
  });
  const counter = new Int32Array(progress);
  const committed = (): number => Atomics.load(counter, 0);
  return {
    worker,
    committed,
    async until(count: number): Promise<void> {
      while (committed() < count) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

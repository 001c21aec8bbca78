/**
 * `@tracebuf/node/piscina`: piscina pools whose threads are producers of one `TraceBuffer`.
 *
 * Owner thread:
 *
 * ```ts
 * const tb = TraceBuffer.create({ cpus: 4 });
 * const pool = createProducerPool({ tb, filename: new URL('./task.mjs', import.meta.url).pathname });
 * await pool.run({ work: 42 });
 * tb.drainTo((cpu, ts, payload) => ...);
 * await pool.destroy(); // every slot of the pool is free again
 * ```
 *
 * Task file (runs in the pool's threads):
 *
 * ```ts
 * import { poolProducer } from '@tracebuf/node/piscina';
 * export default function task(t) {
 *   const p = poolProducer(); // this thread's slot, claimed on first use
 *   p.write(encode(t));
 * }
 * ```
 *
 * Lifecycle of a slot: a pool thread claims a free slot of the pool on its first
 * `poolProducer()` and records itself as the slot's owner in a slot table shared with the
 * owner thread (pool-table.ts). It keeps the slot for its whole life. A thread that runs its
 * `process.on('exit')` handlers (`process.exit()`, an uncaught exception, an empty event loop)
 * gives the slot back itself. A thread that does not — piscina terminates it (idle timeout,
 * abort, `destroy()`, `close()`), possibly in the middle of a write — leaves it to the owner
 * thread: on the `Worker`'s `'exit'` (the thread runs no more code) it takes back every slot the
 * thread still owned with `tb.recover(cpu)`, which leaves the ring consistent and a
 * half-written event invisible, and emits `'reclaim'`. Only then can another pool thread claim
 * the slot; a thread that piscina starts as a replacement while the old one is still being torn
 * down waits for the slot (up to `claimWaitMs`) instead of failing.
 *
 * The owner thread is the thread that made the pool (it must keep running its event loop to
 * see exits). Producers outside the pool, and pools of the same buffer made in other threads,
 * should use other slots (`slots`): the slot table is per buffer and per owner thread.
 *
 * More threads than slots: each thread needs a slot of its own. By default the pool may claim
 * every possible slot of the buffer (`maxCpus`), and a thread that finds the online ones owned
 * brings the next slot online, as the kernel allocates a CPU buffer when a CPU comes online.
 * With a `slots` list (or a buffer capped by `maxCpus`), a thread that finds all of the pool's
 * slots owned by live threads fails its `poolProducer()` with a `TraceBufferError` of code
 * `EBUSY`, which rejects that task (`pool.run()` keeps the code); `maxThreads` defaults to
 * piscina's default, but never more than the pool's slots.
 *
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ErrorCode, type ErrorCodeName, TraceBuffer, TraceBufferError } from '@tracebuf/core';
import { Piscina } from 'piscina';
import { WAITING_INDEX, bumpGeneration, type PoolInfo, type PoolWorkerData, ownerIndex, poolTableLength, tokenIndex } from './pool-table.js';

export { poolBuffer, poolProducer, poolWorkerData, releasePoolProducer } from './pool-worker.js';

/** piscina's constructor options. */
export type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;
/** piscina's `run()` options. */
export type PiscinaRunOptions = NonNullable<Parameters<Piscina['run']>[1]>;

/** Options of {@link createProducerPool}: piscina's options plus the buffer and its slots. */
export interface ProducerPoolOptions extends PiscinaOptions {
  /** The buffer the pool's threads write. */
  tb: TraceBuffer;
  /**
   * The cpu slots the pool's threads may claim, in order of preference (slots not online yet
   * come online when claimed). Default: every possible slot of `tb` (`0..maxCpus−1`). Producers
   * outside the pool should use other slots.
   */
  slots?: readonly number[];
  /** Default: piscina's (1.5 × the cores), but no more than the pool's slots (one slot per thread). */
  maxThreads?: number;
  /**
   * How long (ms) a thread's claim waits for a slot whose owner thread is being torn down
   * (piscina starts a replacement before the old thread has exited). Default 5000.
   */
  claimWaitMs?: number;
  /** The tasks' own data; read it in the pool's threads with `poolWorkerData()`. */
  workerData?: unknown;
}

/** A slot the owner thread took back from a pool thread that ended while holding it. */
export interface SlotReclaim {
  /** The cpu slot. */
  readonly cpu: number;
  /** The pool thread that owned it (`Worker.threadId`). */
  readonly threadId: number;
  /** The thread stopped inside its publish sequence and the ring had to be repaired. */
  readonly repaired: boolean;
}

/** A slot owned by a pool thread, from {@link ProducerPool.owners}. */
export interface SlotOwner {
  readonly cpu: number;
  readonly threadId: number;
  /** The thread is being torn down; its slot is taken back when it has exited. */
  readonly exiting: boolean;
}

/** Events of a {@link ProducerPool}. */
export interface ProducerPoolEvents {
  /** A slot was taken back from a thread that ended while owning it (after `tb.recover`). */
  reclaim: [SlotReclaim];
  /** A thread of the pool has exited and every slot it owned is free again. */
  threadExit: [threadId: number];
}

const DEFAULT_CLAIM_WAIT_MS = 5000;

/** One slot table per buffer per thread, shared by every pool of that buffer made here. */
const tables = new WeakMap<SharedArrayBuffer, SharedArrayBuffer>();

function tableOf(tb: TraceBuffer): SharedArrayBuffer {
  let table = tables.get(tb.handle.global);
  if (table === undefined) {
    table = new SharedArrayBuffer(poolTableLength(tb.maxCpus));
    tables.set(tb.handle.global, table);
  }
  return table;
}

const CODES = new Set<string>(Object.values(ErrorCode));

/**
 * A worker's error arrives as a plain `Error` (structured cloning keeps the message, not `name`
 * or `code`); a `TraceBufferError`'s message starts with its code, which gives it back.
 */
function withCode(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof TraceBufferError || 'code' in err) return err;
  const m = /^(E[A-Z]+): ([\s\S]*)$/.exec(err.message);
  if (m === null || !CODES.has(m[1]!)) return err;
  const restored = new TraceBufferError(m[1] as ErrorCodeName, m[2]!);
  if (err.stack !== undefined) restored.stack = err.stack.replace(/^Error: /, 'TraceBufferError: ');
  return restored;
}

function checkSlots(tb: TraceBuffer, slots: unknown): readonly number[] {
  if (slots === undefined) return Array.from({ length: tb.maxCpus }, (_, cpu) => cpu);
  if (!Array.isArray(slots) || slots.length === 0) {
    throw new TraceBufferError(ErrorCode.EINVAL, `slots must be a non-empty array of cpu slots: slots=${String(slots)}`);
  }
  const seen = new Set<number>();
  for (const cpu of slots) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= tb.maxCpus || seen.has(cpu)) {
      throw new TraceBufferError(ErrorCode.EINVAL, `slots must be distinct integers 0..${tb.maxCpus - 1} (maxCpus): slot=${String(cpu)}`);
    }
    seen.add(cpu);
  }
  return [...slots] as number[];
}

/**
 * A piscina pool whose threads are producers of `tb` (see the module doc). Made by
 * {@link createProducerPool}; `piscina` is the pool itself for everything not wrapped here.
 * Emits `'reclaim'` for each slot taken back from a thread that ended while owning it, then
 * `'threadExit'` once everything the thread owned is free.
 */
export class ProducerPool<T = unknown, R = unknown> extends EventEmitter<ProducerPoolEvents> {
  /** The piscina pool. Prefer {@link run}, which keeps tracebuf error codes. */
  readonly piscina: Piscina<T, R>;
  /** The buffer the pool's threads write. */
  readonly tb: TraceBuffer;
  /** The cpu slots the pool's threads may claim. */
  readonly slots: readonly number[];

  readonly #table: Int32Array;
  readonly #watched = new WeakSet<Worker>();
  #reclaimed = 0;
  #repaired = 0;
  #closed = false;

  // Every Worker created in this thread while a pool is open is offered to the open pools; a
  // pool watches the ones that are its threads. ('worker' is emitted right after the Worker is
  // made, before it can exit, so the thread id is still known.)
  static readonly #open = new Set<ProducerPool<never, never>>();
  static readonly #onWorker = (worker: Worker): void => {
    for (const pool of ProducerPool.#open) pool.#adopt(worker);
  };

  /** @internal Use {@link createProducerPool}. */
  constructor(options: ProducerPoolOptions) {
    super();
    const { tb, slots, claimWaitMs, workerData, ...piscinaOptions } = options;
    if (!(tb instanceof TraceBuffer)) throw new TraceBufferError(ErrorCode.EINVAL, `tb must be a TraceBuffer: tb=${String(tb)}`);
    this.tb = tb;
    this.slots = checkSlots(tb, slots);
    const wait = claimWaitMs ?? DEFAULT_CLAIM_WAIT_MS;
    if (typeof wait !== 'number' || !(wait >= 0) || !Number.isFinite(wait)) {
      throw new TraceBufferError(ErrorCode.EINVAL, `claimWaitMs must be a finite number >= 0: claimWaitMs=${String(wait)}`);
    }
    const table = tableOf(tb);
    this.#table = new Int32Array(table);
    const info: PoolInfo = { kind: 'tracebuf-pool', version: 1, handle: tb.handle, table, slots: this.slots, claimWaitMs: wait };
    const data: PoolWorkerData = { tracebufPool: info, data: workerData };
    if (ProducerPool.#open.size === 0) process.on('worker', ProducerPool.#onWorker);
    ProducerPool.#open.add(this as unknown as ProducerPool<never, never>);
    try {
      this.piscina = new Piscina<T, R>({ ...piscinaOptions, maxThreads: piscinaOptions.maxThreads ?? Math.min(this.slots.length, Math.max(1, Math.floor(availableParallelism() * 1.5))), workerData: data });
    } catch (err) {
      this.#unregister();
      throw err;
    }
    // The first threads exist already; later ones arrive through 'worker' (and, as a second
    // way in, piscina's 'workerCreate').
    for (const worker of this.piscina.threads) this.#adopt(worker);
    this.piscina.on('workerCreate', () => {
      for (const worker of this.piscina.threads) this.#adopt(worker);
    });
    // piscina is tearing a thread down (terminate() is asynchronous): mark its slots so that a
    // replacement thread waits for them instead of failing with EBUSY.
    this.piscina.on('workerDestroy', (w: { readonly id: number }) => this.#markExiting(w.id));
  }

  /** Runs a task (piscina `run`); a `TraceBufferError` thrown in the thread rejects with its `code`. */
  async run(task: T, options?: PiscinaRunOptions): Promise<R> {
    try {
      return await this.piscina.run(task, options);
    } catch (err) {
      throw withCode(err);
    }
  }

  /** The pool's slots now owned by a thread. */
  owners(): SlotOwner[] {
    const owners: SlotOwner[] = [];
    for (const cpu of this.slots) {
      const owner = Atomics.load(this.#table, ownerIndex(cpu));
      if (owner !== 0) owners.push({ cpu, threadId: Math.abs(owner), exiting: owner < 0 });
    }
    return owners;
  }

  /**
   * Threads now waiting in `poolProducer()` for a slot whose owner is exiting (of every pool of
   * this buffer made in this thread).
   */
  get claimsWaiting(): number {
    return Atomics.load(this.#table, WAITING_INDEX);
  }

  /** Slots taken back from threads that ended while owning them, and how many needed a repair. */
  get reclaimed(): { readonly slots: number; readonly repaired: number } {
    return { slots: this.#reclaimed, repaired: this.#repaired };
  }

  /**
   * Destroys the piscina pool (running tasks are rejected) and resolves once every thread has
   * exited and its slot was taken back: the pool's slots are free again.
   */
  async destroy(): Promise<void> {
    try {
      await this.piscina.destroy();
    } finally {
      this.#unregister();
    }
  }

  /** Closes the piscina pool (running tasks finish first) and resolves as {@link destroy}. */
  async close(options?: { force?: boolean }): Promise<void> {
    try {
      await this.piscina.close(options);
    } finally {
      this.#unregister();
    }
  }

  #unregister(): void {
    if (this.#closed) return;
    this.#closed = true;
    ProducerPool.#open.delete(this as unknown as ProducerPool<never, never>);
    if (ProducerPool.#open.size === 0) process.off('worker', ProducerPool.#onWorker);
  }

  /** Watches `worker` when it is one of this pool's threads. */
  #adopt(worker: Worker): void {
    if (this.#watched.has(worker) || !this.piscina.threads.includes(worker)) return;
    const id = worker.threadId;
    if (id < 0) return; // exited already (cannot happen before 'worker' or 'workerCreate')
    this.#watched.add(worker);
    worker.once('exit', () => this.#threadExited(id));
  }

  #markExiting(threadId: number): void {
    if (!(threadId > 0)) return;
    for (const cpu of this.slots) Atomics.compareExchange(this.#table, ownerIndex(cpu), threadId, -threadId);
  }

  /**
   * The thread is gone (its Worker emitted 'exit', so it runs no more code): take back every
   * slot it still owns. `tb.recover` when the buffer's claim is still the one it got (or it
   * died before writing that down), then the table entry, then wake waiting claims.
   */
  #threadExited(threadId: number): void {
    const t = this.#table;
    const cpus = this.tb.maxCpus;
    for (const cpu of this.slots) {
      const owner = Atomics.load(t, ownerIndex(cpu));
      if (owner !== threadId && owner !== -threadId) continue;
      const token = Atomics.load(t, tokenIndex(cpus, cpu));
      const claim = this.tb.claimToken(cpu);
      let reclaim: SlotReclaim | undefined;
      if (claim !== 0 && (token === 0 || token === claim)) {
        reclaim = { cpu, threadId, repaired: this.tb.recover(cpu) };
        this.#reclaimed++;
        if (reclaim.repaired) this.#repaired++;
      }
      Atomics.store(t, tokenIndex(cpus, cpu), 0);
      Atomics.store(t, ownerIndex(cpu), 0);
      bumpGeneration(t);
      if (reclaim !== undefined) this.emit('reclaim', reclaim);
    }
    this.emit('threadExit', threadId);
  }
}

/**
 * Makes a piscina pool whose threads are producers of `options.tb` (see the module doc): each
 * thread claims a slot on its first `poolProducer()`, keeps it while it lives, and the slot is
 * taken back (`tb.recover`) when the thread exits, crashes or is terminated. `maxThreads`
 * defaults to the number of slots; with more threads than slots the surplus threads' tasks
 * reject with `EBUSY`. Throws `EINVAL` for a bad `tb`, `slots` or `claimWaitMs`.
 */
export function createProducerPool<T = unknown, R = unknown>(options: ProducerPoolOptions): ProducerPool<T, R> {
  return new ProducerPool<T, R>(options);
}

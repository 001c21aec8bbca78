/**
 * What the wake-up latency benchmark shares between the main thread and its workers
 * (`workers/wakeup.js`): the scenario, the shared words of the round protocol, and the clock.
 *
 * One round, number `r` (every word below is an Int32 in `sync`, every time a Float64 in `times`):
 *
 *  1. The consumer drains the buffer (GET_READER until nothing new), arms its wait
 *     (`mapping.wait` / `mapping.waitAsync`, or a raw `Atomics.wait`/`waitAsync` for the
 *     baseline) and stores `READY = r`.
 *  2. The producer sees `READY == r`, lets `SETTLE_MS` pass (so a worker consumer is really asleep
 *     in the futex, not between storing `READY` and blocking), then writes events one at a time,
 *     reading the clock just before each write. The write after which the buffer's wake sequence
 *     has moved is the one whose commit woke the consumer: the first commit (bufferPercent 0) or
 *     the sub-buffer crossing that reaches the watermark (bufferPercent 50). Its clock reading goes
 *     to `times[T_WRITE]`, then `PUBLISHED = r`.
 *  3. The consumer reads the clock as soon as its wait returns, stores `WOKE = r`, waits for
 *     `PUBLISHED == r`: the latency is its reading minus `times[T_WRITE]`.
 *
 * A worker consumer runs a round when the main thread stores `GO = r` and answers with
 * `times[LATENCY]` and `DONE = r`.
 *
 * @packageDocumentation
 */
import { TRACE_MMAP_IOCTL_GET_READER, layout } from '@tracebuf/core';
import type { Mapping, TraceBuffer, TraceBufferHandle } from '@tracebuf/core';

/** Where the consumer waits, and with what. */
export interface WakeupScenario {
  /** `worker`: a consumer worker blocked in `Atomics.wait`; `main`: the main thread awaiting `Atomics.waitAsync`. */
  readonly consumer: 'worker' | 'main';
  /** `tracebuf`: `mapping.wait`/`waitAsync` woken by a producer's commit; `raw`: bare `Atomics.wait`/`waitAsync` + `Atomics.notify`. */
  readonly mechanism: 'tracebuf' | 'raw';
  /** tracebuf's watermark for the wait (0 = any data); ignored by `raw`. */
  readonly bufferPercent: number;
}

/** Int32 indexes in the `sync` buffer. */
export const Sync = {
  GO: 0,
  READY: 1,
  WOKE: 2,
  PUBLISHED: 3,
  DONE: 4,
  STOP: 5,
  /** The word a `raw` consumer waits on and the producer notifies. */
  RAW: 6,
} as const;
/** Int32 words of `sync`. */
export const SYNC_WORDS = 16;

/** Float64 indexes in the `times` buffer. */
export const Times = {
  /** Clock reading just before the write (or notify) that woke the consumer; NaN when none did. */
  T_WRITE: 0,
  /** A worker consumer's measured latency, ns (NaN: the consumer was not asleep). */
  LATENCY: 1,
  /** How long the waking write (or the raw add + notify) itself took in the producer, ns. */
  WRITE_NS: 2,
  /** A worker consumer's copy of WRITE_NS for the round it reports. */
  WRITE_NS_COPY: 3,
} as const;
/** Float64 slots of `times`. */
export const TIMES_SLOTS = 4;

/** How long the producer lets a consumer that announced READY fall asleep, ms. */
export const SETTLE_MS = 0.3;
/** A wait that is not woken within this many ms ends the benchmark with an error. */
export const WAIT_TIMEOUT_MS = 5000;

/** `workerData` of a wake-up worker. */
export interface WakeupWorkerData {
  readonly role: 'producer' | 'consumer';
  readonly scenario: WakeupScenario;
  readonly handle: TraceBufferHandle;
  readonly sync: SharedArrayBuffer;
  readonly times: SharedArrayBuffer;
}

/**
 * The clock every thread shares: `process.hrtime` (CLOCK_MONOTONIC) in ns, as a double (exact
 * below 2^53 ns, i.e. for ~104 days of uptime). `performance.now()` has a per-thread origin.
 */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Blocks until `sync[index] === value`. */
export function awaitWord(sync: Int32Array, index: number, value: number): void {
  for (;;) {
    const now = Atomics.load(sync, index);
    if (now === value) return;
    if (Atomics.wait(sync, index, now, WAIT_TIMEOUT_MS) === 'timed-out') {
      throw new Error(`timed out waiting for sync[${index}] == ${value} (it is ${Atomics.load(sync, index)})`);
    }
  }
}

/** Stores `value` in `sync[index]` and wakes its waiters. */
export function signalWord(sync: Int32Array, index: number, value: number): void {
  Atomics.store(sync, index, value);
  Atomics.notify(sync, index);
}

/**
 * The consumer side of a round, on a worker (`roundSync`, blocking) or on the main thread
 * (`roundAsync`): drain, arm the wait, announce READY, wait, read the clock, fetch the producer's
 * reading. Returns the latency in ns, or NaN when the consumer was not asleep (its wait found the
 * watermark already reached, so no producer commit woke it).
 */
export class WakeupConsumer {
  readonly #scenario: WakeupScenario;
  readonly #mapping: Mapping;
  readonly #sync: Int32Array;
  readonly #times: Float64Array;
  #lastId: number;
  #lastRead: number;

  constructor(tb: TraceBuffer, scenario: WakeupScenario, sync: Int32Array, times: Float64Array) {
    this.#scenario = scenario;
    this.#mapping = tb.map(0);
    this.#sync = sync;
    this.#times = times;
    this.#lastId = this.#mapping.readerId;
    this.#lastRead = this.#mapping.readerRead;
  }

  /** GET_READER until nothing new: the buffer is empty when the wait is armed. */
  #drain(): void {
    const m = this.#mapping;
    for (;;) {
      m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
      if (m.readerId === this.#lastId && m.readerRead === this.#lastRead) return;
      this.#lastId = m.readerId;
      this.#lastRead = m.readerRead;
    }
  }

  #finish(round: number, wokeAt: number): number {
    signalWord(this.#sync, Sync.WOKE, round);
    awaitWord(this.#sync, Sync.PUBLISHED, round);
    return wokeAt - this.#times[Times.T_WRITE]!;
  }

  /** A worker's round: blocks in `mapping.wait()` (or a raw `Atomics.wait`). */
  roundSync(round: number): number {
    this.#drain();
    const sync = this.#sync;
    let woken: boolean;
    if (this.#scenario.mechanism === 'raw') {
      const value = Atomics.load(sync, Sync.RAW);
      signalWord(sync, Sync.READY, round);
      woken = Atomics.wait(sync, Sync.RAW, value, WAIT_TIMEOUT_MS) !== 'timed-out';
    } else {
      signalWord(sync, Sync.READY, round);
      woken = this.#mapping.wait({ bufferPercent: this.#scenario.bufferPercent, timeoutMs: WAIT_TIMEOUT_MS });
    }
    const wokeAt = nowNs();
    if (!woken) throw new Error(`consumer wait timed out after ${WAIT_TIMEOUT_MS} ms (round ${round})`);
    return this.#finish(round, wokeAt);
  }

  /** The main thread's round: awaits `mapping.waitAsync()` (or a raw `Atomics.waitAsync`). */
  async roundAsync(round: number): Promise<number> {
    this.#drain();
    const sync = this.#sync;
    let woken: boolean;
    if (this.#scenario.mechanism === 'raw') {
      const value = Atomics.load(sync, Sync.RAW);
      const result = Atomics.waitAsync(sync, Sync.RAW, value, WAIT_TIMEOUT_MS);
      // As mapping.waitAsync does: a pending Atomics.waitAsync alone does not keep Node alive.
      const keepAlive = setInterval(() => undefined, 1 << 30);
      signalWord(sync, Sync.READY, round);
      try {
        woken = (result.async ? await result.value : result.value) !== 'timed-out';
      } finally {
        clearInterval(keepAlive);
      }
    } else {
      // waitAsync registers the waiter before it returns its promise: READY is announced after.
      const pending = this.#mapping.waitAsync({ bufferPercent: this.#scenario.bufferPercent, timeoutMs: WAIT_TIMEOUT_MS });
      signalWord(sync, Sync.READY, round);
      woken = await pending;
    }
    const wokeAt = nowNs();
    if (!woken) throw new Error(`consumer wait timed out after ${WAIT_TIMEOUT_MS} ms (round ${round})`);
    return this.#finish(round, wokeAt);
  }

  close(): void {
    this.#mapping.unmap();
  }
}

const settleWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * The producer side, forever (until the worker is terminated): for each round, wait for READY,
 * let the consumer fall asleep, then write 16-byte events until one of them wakes it (or, raw:
 * one `Atomics.notify`), and publish the clock reading taken just before that write.
 */
export function produceWakeups(tb: TraceBuffer, scenario: WakeupScenario, sync: Int32Array, times: Float64Array): never {
  const p = tb.producer(0);
  const cb = tb.cpuBuffer(0);
  const payload = new Uint8Array(16);
  const capacity = (tb.config.nrSubbufs - 1) * Math.floor((tb.config.subbufSize - 16) / 20);
  for (let round = 1; ; round++) {
    awaitWord(sync, Sync.READY, round);
    if (scenario.mechanism === 'tracebuf') {
      // READY comes before the consumer's wait registers: a consumer thread descheduled there
      // for longer than the writes take would find the data already present and never sleep.
      // Wait until its waiter bit is set (it blocks right after), then let it fall asleep.
      const deadline = performance.now() + WAIT_TIMEOUT_MS;
      while ((Atomics.load(cb.ctl, layout.CTRL_INDEX) & layout.CTRL_WAITERS) === 0 && performance.now() < deadline) {
        Atomics.wait(settleWord, 0, 0, 0.02);
      }
    }
    Atomics.wait(settleWord, 0, 0, SETTLE_MS);
    if (scenario.mechanism === 'raw') {
      const before = nowNs();
      Atomics.add(sync, Sync.RAW, 1);
      Atomics.notify(sync, Sync.RAW);
      times[Times.WRITE_NS] = nowNs() - before;
      times[Times.T_WRITE] = before;
      signalWord(sync, Sync.PUBLISHED, round);
      continue;
    }
    const seq = cb.wakeSequence();
    let at = Number.NaN;
    let took = Number.NaN;
    for (let i = 0; ; i++) {
      const before = nowNs();
      if (!p.write(payload)) throw new Error(`ring full before a wake-up (round ${round}, ${i} writes)`);
      if (cb.wakeSequence() !== seq) {
        took = nowNs() - before;
        at = before;
        break;
      }
      // Awake without a wake-up from us: this round has no sample.
      if (Atomics.load(sync, Sync.WOKE) === round) break;
      if (i > capacity) throw new Error(`no wake-up after ${i} writes (round ${round})`);
    }
    times[Times.WRITE_NS] = took;
    times[Times.T_WRITE] = at;
    signalWord(sync, Sync.PUBLISHED, round);
  }
}

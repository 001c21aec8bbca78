/**
 * Trace clocks: `mono` (ns on one clock shared by all threads), `counter` (a global sequence) and
 * `local` (a coarse shared time refined per ring: a few ns per event, no allocation).
 *
 * @packageDocumentation
 */
import { Worker } from 'node:worker_threads';
import { STORES_IN_ORDER } from './counters.js';
import {
  CLOCK_PAGE_LENGTH,
  COUNTER_HALVES_INDEX,
  COUNTER_LO_INDEX,
  LAST_TICK_F64_INDEX,
  TICK_ACTIVITY_INDEX,
  TICK_F64_INDEX,
  TICK_LENGTH_INDEX,
  TICKER_STATE_INDEX,
  TickerState,
} from './layout.js';

/** Clock names accepted by the `clock` option. */
export const ClockName = {
  /** Nanoseconds since the buffer was created, on the monotonic clock every thread shares. */
  MONO: 'mono',
  /** A global sequence number shared by every producer of the buffer (kernel `counter`). */
  COUNTER: 'counter',
  /**
   * Nanoseconds since the buffer was created, from a coarse time that a ticker thread stores in
   * shared memory every {@link LOCAL_TICK_NS} ns, refined per ring (kernel `local`: fast, exact
   * order within a CPU, approximate across CPUs). Each ring's stamps never decrease; events of
   * different rings are in time order when they are more than one tick (plus the ticker's
   * scheduling delay) apart.
   */
  LOCAL: 'local',
} as const;

/** One of the {@link ClockName} values. */
export type ClockNameValue = (typeof ClockName)[keyof typeof ClockName];

/** Numeric clock kinds used on the hot path. */
export const ClockKind = { MONO: 0, COUNTER: 1, LOCAL: 2 } as const;

/** Hot-path kind of a clock name. */
export function clockKindOf(name: ClockNameValue): number {
  return name === ClockName.MONO ? ClockKind.MONO : name === ClockName.COUNTER ? ClockKind.COUNTER : ClockKind.LOCAL;
}

/** Monotonic time of this process in ns, as a double (cold path: allocates a BigInt). */
export function hrNowNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Offset to add to `performance.now() * 1e6` in this thread so that the sum is ns since
 * `createdHrNs` on the process-wide monotonic clock. `performance.now()` runs from this thread's
 * own origin, so each thread measures its offset once, keeping the tightest of a few samples.
 */
export function monoOffsetNs(createdHrNs: number): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 16; i++) {
    const before = process.hrtime.bigint();
    const perf = performance.now();
    const after = process.hrtime.bigint();
    const width = Number(after - before);
    if (width < best) {
      best = width;
      const mid = Number(before) + width / 2;
      offset = mid - perf * 1e6 - createdHrNs;
    }
  }
  return offset;
}

/** Reads the mono clock: ns since creation. */
export function monoNow(offsetNs: number): number {
  return Math.floor(performance.now() * 1e6 + offsetNs);
}

const HALF = 0x8000_0000;

/**
 * Takes the next value of the global `counter` clock (starting at 1).
 *
 * The low 32 bits advance with one `Atomics.add`; the thread whose add crosses a 2^31 boundary
 * bumps the half-epoch word. A thread that reads the half-epoch word before that bump (or after
 * a later one) corrects it by the parity of its own low word, which is exact while threads are
 * fewer than 2^30 increments apart.
 */
export function counterNext(global: Int32Array): number {
  const low = Atomics.add(global, COUNTER_LO_INDEX, 1) >>> 0;
  if ((low & 0x7fff_ffff) === 0x7fff_ffff) Atomics.add(global, COUNTER_HALVES_INDEX, 1);
  // After the locked add, a plain load is a fresh read on x86 (V8 does not carry loads across
  // atomic operations); the parity correction below absorbs a bump still in flight.
  let halves = (STORES_IN_ORDER ? global[COUNTER_HALVES_INDEX]! : Atomics.load(global, COUNTER_HALVES_INDEX)) >>> 0;
  const half = low >>> 31;
  if ((halves & 1) !== half) halves += (low & 0x7fff_ffff) < 0x4000_0000 ? 1 : -1;
  return halves * HALF + (low & 0x7fff_ffff) + 1;
}

/**
 * Takes `n` (1..2^30) consecutive values of the counter clock with one `Atomics.add`; returns the
 * first (the others follow it one by one). The half-epoch bookkeeping is {@link counterNext}'s:
 * the caller whose block crosses into a new half bumps it; a reader that sees it late or early
 * corrects by the parity of its own low word.
 */
export function counterNextN(global: Int32Array, n: number): number {
  const low = Atomics.add(global, COUNTER_LO_INDEX, n) >>> 0;
  if ((low & 0x7fff_ffff) + n > 0x7fff_ffff) Atomics.add(global, COUNTER_HALVES_INDEX, 1);
  let halves = Atomics.load(global, COUNTER_HALVES_INDEX) >>> 0;
  const half = low >>> 31;
  if ((halves & 1) !== half) halves += (low & 0x7fff_ffff) < 0x4000_0000 ? 1 : -1;
  return halves * HALF + (low & 0x7fff_ffff) + 1;
}

/** Reads the counter clock without advancing it. */
export function counterPeek(global: Int32Array): number {
  const low = Atomics.load(global, COUNTER_LO_INDEX) >>> 0;
  let halves = Atomics.load(global, COUNTER_HALVES_INDEX) >>> 0;
  if ((halves & 1) !== low >>> 31) halves += (low & 0x7fff_ffff) < 0x4000_0000 ? 1 : -1;
  return halves * HALF + (low & 0x7fff_ffff);
}

// ------------------------------------------------------------------------------------------------
// The `local` clock
// ------------------------------------------------------------------------------------------------

/** The `local` clock's tick: the ticker stores the coarse time this often (1 ms). */
export const LOCAL_TICK_NS = 1_000_000;

/** Value of `ticker_state` after the ticker thread failed: producers read the time themselves. */
const TICKER_FAILED = 3;

/** This thread's clock page (one ticker thread serves every `local` buffer created here). */
let threadClockPage: SharedArrayBuffer | undefined;

/**
 * The clock page of the `local` clock for buffers created in this thread, and its ticker thread
 * (started on first use, asleep until a producer writes, `unref`'d so it never keeps the process
 * alive). The ticker is a thread of this thread: it runs as long as this thread does.
 */
export function localClockPage(): SharedArrayBuffer {
  if (threadClockPage !== undefined) return threadClockPage;
  const page = new SharedArrayBuffer(CLOCK_PAGE_LENGTH);
  const i32 = new Int32Array(page);
  const f64 = new Float64Array(page);
  i32[TICK_LENGTH_INDEX] = LOCAL_TICK_NS;
  f64[LAST_TICK_F64_INDEX] = hrNowNs() - LOCAL_TICK_NS;
  f64[TICK_F64_INDEX] = Number.NaN;
  i32[TICKER_STATE_INDEX] = TickerState.SLEEPING;
  const ticker = new Worker(new URL('./ticker-worker.js', import.meta.url), { workerData: { page }, stdout: false, stderr: false });
  ticker.unref();
  ticker.on('error', () => {
    Atomics.store(i32, TICKER_STATE_INDEX, TICKER_FAILED);
    f64[TICK_F64_INDEX] = Number.NaN;
  });
  threadClockPage = page;
  return page;
}

/** Spins a bounded while for a waking producer's tick store; NaN if it never came. */
function awaitTick(f64: Float64Array): number {
  for (let i = 0; i < 10_000; i++) {
    const t = f64[TICK_F64_INDEX]!;
    if (!Number.isNaN(t)) return t;
  }
  return Number.NaN;
}

/**
 * Cold path of the `local` clock, for a producer that loaded NaN from `tick_ns`: the ticker
 * sleeps (no producer wrote for a while). Wakes it with a fresh tick — at least one tick after
 * the last one, so that ticks stay {@link LOCAL_TICK_NS} apart — and returns the coarse time (ns
 * of `process.hrtime`) to stamp with. Allocates (it reads the time); runs once per idle period.
 */
export function wakeLocalClock(i32: Int32Array, f64: Float64Array): number {
  const now = hrNowNs();
  const tickNs = i32[TICK_LENGTH_INDEX]!;
  const state = Atomics.compareExchange(i32, TICKER_STATE_INDEX, TickerState.SLEEPING, TickerState.RUNNING);
  if (state === TickerState.SLEEPING) {
    const tick = Math.max(now, f64[LAST_TICK_F64_INDEX]! + tickNs);
    f64[TICK_F64_INDEX] = tick;
    Atomics.store(i32, TICK_ACTIVITY_INDEX, 1);
    Atomics.notify(i32, TICKER_STATE_INDEX);
    return tick;
  }
  if (state === TICKER_FAILED) return now;
  // Another producer is waking it (or the ticker is storing NaN on its way to sleep).
  const tick = awaitTick(f64);
  return Number.isNaN(tick) ? Math.max(now, f64[LAST_TICK_F64_INDEX]! + tickNs) : tick;
}

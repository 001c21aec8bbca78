/**
 * Trace clocks: `mono` (ns on one clock shared by all threads) and `counter` (a global sequence).
 *
 * @packageDocumentation
 */
import { STORES_IN_ORDER } from './counters.js';
import { COUNTER_HALVES_INDEX, COUNTER_LO_INDEX } from './layout.js';

/** Clock names accepted by the `clock` option. */
export const ClockName = {
  /** Nanoseconds since the buffer was created, on the monotonic clock every thread shares. */
  MONO: 'mono',
  /** A global sequence number shared by every producer of the buffer (kernel `counter`). */
  COUNTER: 'counter',
} as const;

/** One of the {@link ClockName} values. */
export type ClockNameValue = (typeof ClockName)[keyof typeof ClockName];

/** Numeric clock kinds used on the hot path. */
export const ClockKind = { MONO: 0, COUNTER: 1 } as const;

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

/** Reads the counter clock without advancing it. */
export function counterPeek(global: Int32Array): number {
  const low = Atomics.load(global, COUNTER_LO_INDEX) >>> 0;
  let halves = Atomics.load(global, COUNTER_HALVES_INDEX) >>> 0;
  if ((halves & 1) !== low >>> 31) halves += (low & 0x7fff_ffff) < 0x4000_0000 ? 1 : -1;
  return halves * HALF + (low & 0x7fff_ffff);
}

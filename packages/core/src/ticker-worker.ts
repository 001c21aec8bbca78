/**
 * The `local` clock's ticker thread (see `clock.ts`): stores the coarse time into the clock page
 * once per tick while producers use it, and sleeps (no CPU at all) once none has looked at a new
 * tick for {@link IDLE_TICKS} ticks; the next producer to look wakes it.
 *
 * @packageDocumentation
 */
import { workerData } from 'node:worker_threads';
import { hrNowNs } from './clock.js';
import { LAST_TICK_F64_INDEX, TICK_ACTIVITY_INDEX, TICK_F64_INDEX, TICK_LENGTH_INDEX, TICKER_STATE_INDEX, TickerState } from './layout.js';

/** Ticks without a producer looking before the ticker goes to sleep. */
const IDLE_TICKS = 100;

const page = (workerData as { page: SharedArrayBuffer }).page;
const i32 = new Int32Array(page);
const f64 = new Float64Array(page);
const tickNs = i32[TICK_LENGTH_INDEX]!;
const tickMs = tickNs / 1e6;

let idle = 0;
for (;;) {
  if (Atomics.load(i32, TICKER_STATE_INDEX) === TickerState.SLEEPING) {
    // Woken by a producer that stored a fresh tick and set RUNNING (wakeLocalClock).
    Atomics.wait(i32, TICKER_STATE_INDEX, TickerState.SLEEPING);
    idle = 0;
    continue;
  }
  Atomics.wait(i32, TICKER_STATE_INDEX, TickerState.RUNNING, tickMs);
  const previous = f64[TICK_F64_INDEX]!;
  if (Number.isNaN(previous)) continue; // a waking producer has not stored its tick yet
  // Consecutive ticks are at least tickNs apart, even if this wake-up came early: producers
  // stamp below `tick + tickNs`, so every stamp of a tick is below every later tick.
  f64[TICK_F64_INDEX] = Math.max(hrNowNs(), previous + tickNs);
  if (Atomics.exchange(i32, TICK_ACTIVITY_INDEX, 0) !== 0) {
    idle = 0;
  } else if (++idle >= IDLE_TICKS) {
    // SLEEPING first, then NaN: a producer that sees NaN finds SLEEPING and wakes us.
    f64[LAST_TICK_F64_INDEX] = f64[TICK_F64_INDEX]!;
    Atomics.store(i32, TICKER_STATE_INDEX, TickerState.SLEEPING);
    f64[TICK_F64_INDEX] = Number.NaN;
  }
}

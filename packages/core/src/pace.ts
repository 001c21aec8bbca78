/**
 * A short busy wait that touches no shared memory and allocates nothing: GET_READER's pacing
 * while the reader is on the sub-buffer the producer writes (see `readerPaceNs`).
 *
 * @packageDocumentation
 */

/** Rounds of the busy loop per ns, measured at the first use (0: not measured yet). */
let roundsPerNs = 0;
/** Keeps the loop's result alive, so that the compiler cannot drop the loop. */
let sink = 0;

function spin(rounds: number): void {
  let x = sink;
  for (let i = 0; i < rounds; i++) x = (x * 31 + i) | 0;
  sink = x;
}

/** Measures the loop once (best of a few tries of ~0.1 ms, after the compiler has seen it). */
function measure(): number {
  const rounds = 100_000;
  let best = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < 6; trial++) {
    const started = performance.now();
    spin(rounds);
    best = Math.min(best, performance.now() - started);
  }
  return rounds / Math.max(best * 1e6, 1);
}

/** Lets about `ns` pass (busy). A clock read per call would cost as much and allocate. */
export function busyWaitNs(ns: number): void {
  if (roundsPerNs === 0) roundsPerNs = measure();
  spin(Math.round(ns * roundsPerNs));
}

/**
 * Question: how many events per second reach one consumer thread from N producer workers
 * (N = 2 and 3) through tracebuf (one cpu slot per producer, one `write` per event,
 * producer/consumer mode, no loss), next to postMessage per event, postMessage of transferred
 * 1024-event batches, and ringbuf.js SPSC with 64-event pushes (one ring per producer; the
 * consumer polls them all)?
 *
 * Same payloads, modes, checks and harness as `one-to-one` (see `stream.ts` and the README).
 * On a 2-core machine N producers + 1 consumer share the cores: the numbers show how each
 * transport behaves when threads outnumber cores, not how it scales.
 *
 * Run: `node benchmarks/dist/n-to-one.js` (after `npx tsc -b benchmarks`).
 * Env: as one-to-one, plus TRACEBUF_BENCH_PRODUCERS (comma-separated producer counts, default 2,3).
 *
 * @packageDocumentation
 */
import { isMain } from './common.js';
import { runStream, streamOptions } from './stream.js';

/** The question this script answers. */
export const QUESTION =
  'how many events/s reach one consumer from N producer workers (N = 2, 3): tracebuf (write per event, and writeMany ×64; no loss) vs postMessage per event, postMessage ×1024 transferred, ringbuf.js SPSC ×64 (one ring per producer)?';

/** Producer counts from `TRACEBUF_BENCH_PRODUCERS` (default 2 and 3). */
export function producerCounts(): number[] {
  const raw = process.env['TRACEBUF_BENCH_PRODUCERS'] ?? '2,3';
  const counts = raw.split(',').map((x) => Number(x.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) {
    throw new Error(`TRACEBUF_BENCH_PRODUCERS must be comma-separated integers 1..64: TRACEBUF_BENCH_PRODUCERS=${raw}`);
  }
  return counts;
}

/**
 * Default counts: 2^20 events per producer per run (2^16 for postMessage/event), 2 rounds × 2
 * runs — half of one-to-one's per producer, to keep `npm run bench` within ~3 minutes.
 */
export const DEFAULTS = { events: 1 << 20, postEventEvents: 1 << 16, rounds: 2, runsPerRound: 2 } as const;

if (isMain(import.meta.url)) await runStream(streamOptions('n-to-one', QUESTION, producerCounts(), DEFAULTS));

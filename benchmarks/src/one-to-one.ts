/**
 * Question: how many events per second reach one consumer thread from one producer worker through
 * tracebuf (one `write` per event, producer/consumer mode, no loss), next to postMessage per event,
 * postMessage of transferred 1024-event batches, and ringbuf.js SPSC with 64-event pushes?
 *
 * 16- and 128-byte payloads; measured twice: without timestamps (tracebuf clock 'counter') and
 * with a `performance.now()` per event in the baselines (tracebuf clock 'mono'). Fixed event
 * counts per run; every run checks that the consumer got every event exactly once, in order
 * (count, checksum, sequence) and, for tracebuf, that the buffer's counters agree. The harness
 * and the transports are described in `stream.ts` and the README.
 *
 * Run: `node benchmarks/dist/one-to-one.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_SMOKE=1, TRACEBUF_BENCH_STREAM_EVENTS, TRACEBUF_BENCH_STREAM_POST_EVENTS,
 * TRACEBUF_BENCH_STREAM_ROUNDS, TRACEBUF_BENCH_STREAM_RUNS.
 *
 * @packageDocumentation
 */
import { isMain } from './common.js';
import { runStream, streamOptions } from './stream.js';

/** The question this script answers. */
export const QUESTION =
  'how many events/s reach one consumer from one producer worker: tracebuf (write per event, and writeMany ×64; no loss) vs postMessage per event, postMessage ×1024 transferred, ringbuf.js SPSC ×64?';

/** Default counts: 2^21 events per run (2^17 for postMessage/event), 3 rounds × 2 runs. */
export const DEFAULTS = { events: 1 << 21, postEventEvents: 1 << 17, rounds: 3, runsPerRound: 2 } as const;

if (isMain(import.meta.url)) await runStream(streamOptions('one-to-one', QUESTION, [1], DEFAULTS));

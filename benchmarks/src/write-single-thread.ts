/**
 * Question: how many ns does one tracebuf write cost, next to the raw stores it does?
 *
 * One thread, one ring, no reader. For payloads of 8, 32, 128 and 1024 bytes:
 *
 * - `tracebuf counter` / `tracebuf mono` / `tracebuf local`: `producer.write(payload)` on
 *   `TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 256, overwrite: true, clock })`.
 * - `baseline a`: only the stores such a write cannot avoid — the header word (plus the length
 *   word of the long form) and the payload bytes into a SharedArrayBuffer ring of the same size
 *   (wrapping), then one `Atomics.store` that publishes the new end. Events have the kernel
 *   format's sizes and payload offsets (core's `eventLength` / `payloadOffset`), so the payload
 *   lands at the same alignment as in tracebuf — that matters: `Uint8Array.set` into shared memory
 *   is several times slower when the destination is not 8-byte aligned. The payload is copied
 *   the way tracebuf copies it (byte loop up to 64 bytes, `Uint8Array.set` above), so the
 *   difference is the ring buffer's own work, not the copy strategy.
 * - `baseline b`: baseline a plus one `performance.now()` read per event, turned into a
 *   nanosecond delta stored in the header word (what the `mono` clock needs at least).
 * - `baseline c`: baseline a plus one plain `Float64Array` load per event of a coarse time kept in
 *   a SharedArrayBuffer, turned into a delta stored in the header word: what the cheapest possible
 *   coarse clock costs (what the `local` clock needs at least; its per-ring refinement is
 *   tracebuf's own work). The task refreshes the coarse time from `performance.now()` once per
 *   iteration, before its `batch` events (timed: ~0.05 ns per event at the default batch),
 *   standing in for the `local` clock's ticker thread, whose one store per millisecond costs the
 *   reading core about one cache miss per millisecond.
 *
 * Matching pairs: `counter` vs a (no clock read), `mono` vs b (one clock read), `local` vs c (one
 * coarse-time load). The goal is a tracebuf write within 1.5× of its matching baseline;
 * this script reports whether that holds (overall and per clock) and does not assert it. Every task iteration writes a batch of events (1000 by default) so that
 * tinybench's per-call overhead does not dominate; figures are ns per event.
 *
 * Run: `node benchmarks/dist/write-single-thread.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_SMOKE=1, TRACEBUF_BENCH_TIME_MS, TRACEBUF_BENCH_ROUNDS, TRACEBUF_BENCH_BATCH.
 *
 * @packageDocumentation
 */
import { TraceBuffer, dataTypeLen, eventLength, payloadOffset } from '@tracebuf/core';
import type { Producer } from '@tracebuf/core';
import { Bench } from 'tinybench';
import {
  SMOKE,
  envInt,
  environment,
  fillerBytes,
  fixed,
  isMain,
  mean,
  median,
  printEnvironment,
  printTable,
  quantile,
  writeResult,
} from './common.js';

/** The question this script answers (printed and stored in the JSON). */
export const QUESTION = 'how many ns does one tracebuf write cost, next to the raw stores it does?';

/** Payload sizes in bytes. */
export const PAYLOAD_LENGTHS = [8, 32, 128, 1024] as const;

/** The goal: a tracebuf write costs at most this many times its matching baseline. */
export const GOAL_RATIO = 1.5;

const SUBBUF_SIZE = 4096;
const NR_SUBBUFS = 256;
/** The baseline ring has the bytes of tracebuf's sub-buffers: 256 × 4 KiB. */
const RAW_RING_LENGTH = SUBBUF_SIZE * NR_SUBBUFS;
/**
 * Largest payload copied as whole 32-bit words (a byte loop for a 1–3-byte tail); longer ones use
 * `Uint8Array.set` — exactly as `Producer.write` copies, so both sides pay the same for the bytes.
 */
const WORD_COPY_MAX_LENGTH = 12;
/** Bytes of the event header word; the long form's length word counts the event minus it. */
const HEADER_WORD_LENGTH = 4;

/**
 * The baseline ring: per event the header word(s) and the payload bytes, laid out with the kernel
 * event sizes (4-byte aligned), wrapping to offset 0 when an event does not fit; one
 * `Atomics.store` of the end offset publishes each event. The published word lives in its own
 * SharedArrayBuffer, as tracebuf's control words do.
 */
class RawRing {
  readonly #u8: Uint8Array;
  readonly #i32: Int32Array;
  readonly #published: Int32Array;
  readonly #length: number;
  /** The coarse time of baseline c: one Float64 in a SharedArrayBuffer of its own (a cache line). */
  readonly #coarse: Float64Array;
  #write = 0;
  #lastNs = 0;

  constructor(length: number) {
    const data = new SharedArrayBuffer(length);
    this.#u8 = new Uint8Array(data);
    this.#i32 = new Int32Array(data);
    this.#published = new Int32Array(new SharedArrayBuffer(64));
    this.#coarse = new Float64Array(new SharedArrayBuffer(64));
    this.#length = length;
    this.refreshCoarse();
  }

  /** Stores a new coarse time (ns) for baseline c: what a ticker thread would do once per tick. */
  refreshCoarse(): void {
    this.#coarse[0] = Math.floor(performance.now() * 1e6);
  }

  /** Baseline a: header word, payload bytes, one `Atomics.store`. */
  store(payload: Uint8Array): boolean {
    const length = payload.length;
    const size = eventLength(length);
    let at = this.#write;
    if (at + size > this.#length) at = 0;
    const typeLen = dataTypeLen(size);
    this.#i32[at >> 2] = typeLen;
    if (typeLen === 0) this.#i32[(at >> 2) + 1] = size - HEADER_WORD_LENGTH;
    this.#copy(payload, at + payloadOffset(size));
    this.#write = at + size;
    Atomics.store(this.#published, 0, at + size);
    return true;
  }

  /** Copies the payload as `Producer.write` does (the payload offset is 4-aligned). */
  #copy(payload: Uint8Array, p: number): void {
    const length = payload.length;
    if (length <= WORD_COPY_MAX_LENGTH) {
      const i32 = this.#i32;
      let i = 0;
      for (; i + 4 <= length; i += 4) {
        i32[(p + i) >> 2] = payload[i]! | (payload[i + 1]! << 8) | (payload[i + 2]! << 16) | (payload[i + 3]! << 24);
      }
      for (const u8 = this.#u8; i < length; i++) u8[p + i] = payload[i]!;
    } else {
      this.#u8.set(payload, p);
    }
  }

  /** Baseline b: baseline a plus one `performance.now()` read, stored as a ns delta in the header. */
  storeClocked(payload: Uint8Array): boolean {
    const ns = Math.floor(performance.now() * 1e6);
    const delta = ns - this.#lastNs;
    this.#lastNs = ns;
    const length = payload.length;
    const size = eventLength(length);
    let at = this.#write;
    if (at + size > this.#length) at = 0;
    const typeLen = dataTypeLen(size);
    this.#i32[at >> 2] = typeLen | ((delta & 0x7ffffff) << 5);
    if (typeLen === 0) this.#i32[(at >> 2) + 1] = size - HEADER_WORD_LENGTH;
    this.#copy(payload, at + payloadOffset(size));
    this.#write = at + size;
    Atomics.store(this.#published, 0, at + size);
    return true;
  }

  /**
   * Baseline c: baseline a plus one plain load of the coarse time, stored as a ns delta in the
   * header. Written out like baseline b rather than sharing a helper: a double passed to a call
   * V8 does not inline is boxed, which would add an allocation to the baseline.
   */
  storeCoarse(payload: Uint8Array): boolean {
    const ns = this.#coarse[0]!;
    const delta = ns - this.#lastNs;
    this.#lastNs = ns;
    const length = payload.length;
    const size = eventLength(length);
    let at = this.#write;
    if (at + size > this.#length) at = 0;
    const typeLen = dataTypeLen(size);
    this.#i32[at >> 2] = typeLen | ((delta & 0x7ffffff) << 5);
    if (typeLen === 0) this.#i32[(at >> 2) + 1] = size - HEADER_WORD_LENGTH;
    this.#copy(payload, at + payloadOffset(size));
    this.#write = at + size;
    Atomics.store(this.#published, 0, at + size);
    return true;
  }
}

/** The six variants measured per payload size. */
export const Variant = {
  BASELINE_A: 'baseline a (stores + Atomics.store)',
  BASELINE_B: 'baseline b (a + performance.now())',
  BASELINE_C: 'baseline c (a + coarse f64 load)',
  COUNTER: 'tracebuf clock=counter',
  MONO: 'tracebuf clock=mono',
  LOCAL: 'tracebuf clock=local',
} as const;
type VariantName = (typeof Variant)[keyof typeof Variant];
const VARIANTS: readonly VariantName[] = [
  Variant.BASELINE_A,
  Variant.BASELINE_B,
  Variant.BASELINE_C,
  Variant.COUNTER,
  Variant.MONO,
  Variant.LOCAL,
];

/** Per-event figures of one variant at one payload size, pooled over every round. */
export interface WriteResult {
  readonly payload: number;
  readonly variant: VariantName;
  /** Median over batches of the ns per event of a batch. */
  readonly p50Ns: number;
  readonly meanNs: number;
  readonly p99Ns: number;
  readonly minNs: number;
  /** Median ns/event of each round (spread between rounds shows noise from other processes). */
  readonly roundMedianNs: readonly number[];
  readonly batches: number;
  readonly events: number;
  /** Writes that returned false (should be 0: overwrite mode never drops). */
  readonly dropped: number;
}

/** tracebuf ÷ baseline per payload size (medians). */
export interface WriteRatios {
  readonly payload: number;
  /** Matching pair: mono vs baseline b. */
  readonly monoVsB: number;
  /** Matching pair: counter vs baseline a. */
  readonly counterVsA: number;
  readonly monoVsA: number;
  readonly counterVsB: number;
  /** Matching pair: local vs baseline c. */
  readonly localVsC: number;
  readonly localVsA: number;
}

/** Options of {@link runWriteSingleThread}. */
export interface WriteBenchOptions {
  /** tinybench time budget per task and round, ms. */
  readonly timeMs: number;
  readonly warmupMs: number;
  /** Rounds over all tasks (interleaves the variants in time). */
  readonly rounds: number;
  /** Events written per task iteration. */
  readonly batch: number;
}

/** Settings from the environment (smaller in smoke mode). */
export function writeBenchOptions(): WriteBenchOptions {
  return {
    timeMs: envInt('TRACEBUF_BENCH_TIME_MS', SMOKE ? 10 : 500),
    warmupMs: SMOKE ? 5 : 100,
    rounds: envInt('TRACEBUF_BENCH_ROUNDS', SMOKE ? 1 : 3),
    batch: envInt('TRACEBUF_BENCH_BATCH', SMOKE ? 100 : 1000),
  };
}

/** Runs the benchmark, prints the report and writes `benchmarks/results/write-single-thread.json`. */
export async function runWriteSingleThread(opts: WriteBenchOptions = writeBenchOptions()): Promise<{
  results: WriteResult[];
  ratios: WriteRatios[];
}> {
  const env = environment();
  console.log(`\n=== write-single-thread: ${QUESTION}`);
  printEnvironment(env);
  console.log(
    `settings: ${opts.batch} events per task iteration, ${opts.timeMs} ms per task, ${opts.rounds} round(s), ` +
      `ring ${RAW_RING_LENGTH} B (tracebuf: subbufSize ${SUBBUF_SIZE}, nrSubbufs ${NR_SUBBUFS}, overwrite)`,
  );

  const producers: Record<'mono' | 'counter' | 'local', Producer> = {
    mono: TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, overwrite: true, clock: 'mono' }).producer(0),
    counter: TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, overwrite: true, clock: 'counter' }).producer(0),
    local: TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, overwrite: true, clock: 'local' }).producer(0),
  };
  const raw = new RawRing(RAW_RING_LENGTH);
  const batch = opts.batch;
  const payloads = new Map<number, Uint8Array>(PAYLOAD_LENGTHS.map((n) => [n, fillerBytes(n, n + 1)]));
  const dropped = new Map<string, number>();
  const samplesNs = new Map<string, number[]>();
  const roundMedians = new Map<string, number[]>();
  const key = (payload: number, variant: VariantName): string => `${payload}B ${variant}`;

  const body = (payload: Uint8Array, variant: VariantName): (() => void) => {
    const k = key(payload.length, variant);
    dropped.set(k, 0);
    switch (variant) {
      case Variant.BASELINE_A:
        return () => {
          for (let i = 0; i < batch; i++) raw.store(payload);
        };
      case Variant.BASELINE_B:
        return () => {
          for (let i = 0; i < batch; i++) raw.storeClocked(payload);
        };
      case Variant.BASELINE_C:
        return () => {
          raw.refreshCoarse();
          for (let i = 0; i < batch; i++) raw.storeCoarse(payload);
        };
      case Variant.COUNTER:
      case Variant.MONO:
      case Variant.LOCAL: {
        const p = variant === Variant.MONO ? producers.mono : variant === Variant.COUNTER ? producers.counter : producers.local;
        return () => {
          let lost = 0;
          for (let i = 0; i < batch; i++) if (!p.write(payload)) lost++;
          if (lost !== 0) dropped.set(k, dropped.get(k)! + lost);
        };
      }
    }
  };

  for (let round = 0; round < opts.rounds; round++) {
    const bench = new Bench({
      name: `write-single-thread round ${round + 1}`,
      time: opts.timeMs,
      warmupTime: opts.warmupMs,
      retainSamples: true,
      throws: true,
    });
    for (const n of PAYLOAD_LENGTHS) {
      const payload = payloads.get(n)!;
      for (const v of VARIANTS) bench.add(key(n, v), body(payload, v));
    }
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`task did not complete: ${task.name} state=${r.state}`);
      const ns = (r.latency.samples ?? []).map((ms) => (ms * 1e6) / batch);
      const all = samplesNs.get(task.name) ?? [];
      for (const x of ns) all.push(x);
      samplesNs.set(task.name, all);
      const meds = roundMedians.get(task.name) ?? [];
      meds.push(median(ns));
      roundMedians.set(task.name, meds);
    }
    if (opts.rounds > 1) console.log(`round ${round + 1}/${opts.rounds} done`);
  }

  const results: WriteResult[] = [];
  for (const n of PAYLOAD_LENGTHS) {
    for (const v of VARIANTS) {
      const k = key(n, v);
      const ns = samplesNs.get(k) ?? [];
      results.push({
        payload: n,
        variant: v,
        p50Ns: median(ns),
        meanNs: mean(ns),
        p99Ns: quantile(ns, 0.99),
        minNs: Math.min(...ns),
        roundMedianNs: roundMedians.get(k) ?? [],
        batches: ns.length,
        events: ns.length * batch,
        dropped: dropped.get(k) ?? 0,
      });
    }
  }
  const p50 = (payload: number, v: VariantName): number => results.find((r) => r.payload === payload && r.variant === v)!.p50Ns;
  const ratios: WriteRatios[] = PAYLOAD_LENGTHS.map((n) => ({
    payload: n,
    monoVsB: p50(n, Variant.MONO) / p50(n, Variant.BASELINE_B),
    counterVsA: p50(n, Variant.COUNTER) / p50(n, Variant.BASELINE_A),
    monoVsA: p50(n, Variant.MONO) / p50(n, Variant.BASELINE_A),
    counterVsB: p50(n, Variant.COUNTER) / p50(n, Variant.BASELINE_B),
    localVsC: p50(n, Variant.LOCAL) / p50(n, Variant.BASELINE_C),
    localVsA: p50(n, Variant.LOCAL) / p50(n, Variant.BASELINE_A),
  }));

  console.log('\nns per event (batch medians pooled over rounds; p99 is of batch means, not of single events):');
  printTable(
    ['payload', 'variant', 'p50 ns', 'mean ns', 'p99 ns', 'round medians', 'batches', 'dropped'],
    results.map((r) => [
      `${r.payload} B`,
      r.variant,
      fixed(r.p50Ns),
      fixed(r.meanNs),
      fixed(r.p99Ns),
      r.roundMedianNs.map((x) => fixed(x)).join(' / '),
      String(r.batches),
      String(r.dropped),
    ]),
  );

  console.log(`\nratios tracebuf ÷ baseline (p50). Matching pairs: mono÷b, counter÷a and local÷c; goal ≤ ${GOAL_RATIO}×:`);
  const mark = (x: number): string => `${fixed(x, 2)}× ${x <= GOAL_RATIO ? 'met' : 'NOT met'}`;
  printTable(
    ['payload', 'mono ÷ b', 'counter ÷ a', 'local ÷ c', 'mono ÷ a', 'counter ÷ b', 'local ÷ a'],
    ratios.map((r) => [
      `${r.payload} B`,
      mark(r.monoVsB),
      mark(r.counterVsA),
      mark(r.localVsC),
      `${fixed(r.monoVsA, 2)}×`,
      `${fixed(r.counterVsB, 2)}×`,
      `${fixed(r.localVsA, 2)}×`,
    ]),
  );

  const pairs = ratios.flatMap((r) => [
    { payload: r.payload, clock: 'mono', baseline: 'b', ratio: r.monoVsB, met: r.monoVsB <= GOAL_RATIO },
    { payload: r.payload, clock: 'counter', baseline: 'a', ratio: r.counterVsA, met: r.counterVsA <= GOAL_RATIO },
    { payload: r.payload, clock: 'local', baseline: 'c', ratio: r.localVsC, met: r.localVsC <= GOAL_RATIO },
  ]);
  const metCount = pairs.filter((p) => p.met).length;
  const worst = pairs.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  const byClock = ['mono', 'counter', 'local'].map((clock) => {
    const mine = pairs.filter((p) => p.clock === clock);
    return { clock, baseline: mine[0]?.baseline ?? '', met: mine.filter((p) => p.met).length, of: mine.length };
  });
  const tally = byClock.map((c) => `${c.clock}÷${c.baseline} ${c.met}/${c.of}`).join(', ');
  const verdict =
    (SMOKE ? '[smoke, not meaningful] ' : '') +
    (metCount === pairs.length
      ? `goal MET: every tracebuf write is within ${GOAL_RATIO}× of its matching baseline (worst ${fixed(worst.ratio, 2)}× at ${worst.payload} B, ${worst.clock})`
      : `goal NOT met for ${pairs.length - metCount} of ${pairs.length} (payload, clock) pairs; worst ${fixed(worst.ratio, 2)}× at ${worst.payload} B, clock ${worst.clock} vs baseline ${worst.baseline}`) +
    ` (met per clock: ${tally})`;
  console.log(`\n${verdict}`);
  const totalDropped = results.reduce((s, r) => s + r.dropped, 0);
  if (totalDropped !== 0) console.log(`WARNING: ${totalDropped} tracebuf writes returned false (overwrite mode should never drop)`);

  const path = writeResult('write-single-thread', {
    benchmark: 'write-single-thread',
    question: QUESTION,
    environment: env,
    settings: { ...opts, payloadLengths: PAYLOAD_LENGTHS, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, rawRingLength: RAW_RING_LENGTH },
    unit: 'ns per event',
    results,
    ratios,
    goal: { ratio: GOAL_RATIO, pairs, met: metCount === pairs.length, byClock, verdict },
  });
  console.log(`JSON: ${path}`);
  return { results, ratios };
}

if (isMain(import.meta.url)) await runWriteSingleThread();

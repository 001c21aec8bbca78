/**
 * Question: how long from the producer's write that should wake a waiting consumer (the first
 * commit for bufferPercent 0, the sub-buffer crossing that reaches the watermark for the default
 * 50) until the consumer runs — blocked in `mapping.wait()` on a worker (`Atomics.wait`), or
 * awaiting `mapping.waitAsync()` on the main thread (`Atomics.waitAsync`)?
 *
 * Next to it, the same round with the bare primitives (baseline `raw`): the producer does
 * `Atomics.notify` on a word the consumer waits on with `Atomics.wait` / `Atomics.waitAsync`.
 *
 * Setup: `TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8, overwrite: false,
 * clock: 'counter' })`, 16-byte events (204 per sub-buffer), one producer worker. Each sample is
 * one wake-up; the round protocol (drain, arm, announce, settle, write until the wake sequence
 * moves) is described in `wakeup-protocol.ts`. The producer reads the clock just before every
 * write and publishes the reading taken before the write whose commit moved the buffer's wake
 * sequence, so the sample is exactly "write that woke → consumer running". The clock is
 * `process.hrtime` (one monotonic clock for every thread). tinybench runs each scenario as a
 * task with a fixed number of iterations; each iteration reports its latency as
 * `overriddenDuration`. The samples are spread over rounds (each a tinybench run over every
 * scenario, with fresh threads) and pooled.
 *
 * Run: `node benchmarks/dist/wakeup-latency.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_SMOKE=1, TRACEBUF_BENCH_WAKEUPS (samples per scenario, default 1000),
 * TRACEBUF_BENCH_WAKEUP_ROUNDS (rounds over the scenarios the samples are spread over, default 2).
 *
 * @packageDocumentation
 */
import { TraceBuffer } from '@tracebuf/core';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { SMOKE, envInt, environment, fixed, isMain, mean, median, printEnvironment, printTable, quantile, writeResult } from './common.js';
import {
  SETTLE_MS,
  SYNC_WORDS,
  Sync,
  TIMES_SLOTS,
  Times,
  WakeupConsumer,
  awaitWord,
  signalWord,
  type WakeupScenario,
  type WakeupWorkerData,
} from './wakeup-protocol.js';

/** The question this script answers. */
export const QUESTION =
  'how long from the write that should wake a waiting consumer (bufferPercent 0: first commit; 50: the watermark crossing) until the consumer runs, for mapping.wait() in a worker and mapping.waitAsync() on the main thread?';

const SUBBUF_SIZE = 4096;
const NR_SUBBUFS = 8;
/** Rounds in a row a sample may be skipped (consumer found the watermark already hit) before giving up. */
const MAX_SKIPS = 10;

/** The scenarios, in the order they run. */
export const SCENARIOS: readonly WakeupScenario[] = [
  { consumer: 'worker', mechanism: 'tracebuf', bufferPercent: 0 },
  { consumer: 'worker', mechanism: 'tracebuf', bufferPercent: 50 },
  { consumer: 'worker', mechanism: 'raw', bufferPercent: 0 },
  { consumer: 'main', mechanism: 'tracebuf', bufferPercent: 0 },
  { consumer: 'main', mechanism: 'tracebuf', bufferPercent: 50 },
  { consumer: 'main', mechanism: 'raw', bufferPercent: 0 },
];

/** A readable name of a scenario. */
export function scenarioName(s: WakeupScenario): string {
  const how = s.consumer === 'worker' ? 'worker' : 'main thread';
  if (s.mechanism === 'raw') return `${how}: raw Atomics.${s.consumer === 'worker' ? 'wait' : 'waitAsync'} + notify (baseline)`;
  return `${how}: mapping.${s.consumer === 'worker' ? 'wait' : 'waitAsync'}({ bufferPercent: ${s.bufferPercent} })`;
}

/** One scenario's threads: a producer worker, and a consumer worker or the main thread. */
class ScenarioRunner {
  readonly #scenario: WakeupScenario;
  #workers: Worker[] = [];
  #consumer: WakeupConsumer | undefined;
  #sync: Int32Array = new Int32Array(0);
  #times: Float64Array = new Float64Array(0);
  #round = 0;
  #recording = false;
  #failure: Error | undefined;
  /** Rounds without a sample (the consumer's wait returned at once). */
  skipped = 0;
  /** Per sample: how long the waking write (raw: add + notify) took in the producer, ns. */
  readonly writeNs: number[] = [];

  constructor(scenario: WakeupScenario) {
    this.#scenario = scenario;
  }

  /** Starts the threads; samples of the `run` phase (not the warm-up) are kept in {@link writeNs}. */
  async start(phase: string): Promise<void> {
    this.#recording = phase === 'run';
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, overwrite: false, clock: 'counter' });
    const sync = new SharedArrayBuffer(SYNC_WORDS * 4);
    const times = new SharedArrayBuffer(TIMES_SLOTS * 8);
    this.#sync = new Int32Array(sync);
    this.#times = new Float64Array(times);
    this.#round = 0;
    this.#failure = undefined;
    const roles: WakeupWorkerData['role'][] = this.#scenario.consumer === 'worker' ? ['producer', 'consumer'] : ['producer'];
    this.#workers = roles.map((role) => {
      const data: WakeupWorkerData = { role, scenario: this.#scenario, handle: tb.handle, sync, times };
      const w = new Worker(new URL('./workers/wakeup.js', import.meta.url), { workerData: data });
      w.on('error', (err) => {
        this.#failure ??= err;
      });
      return w;
    });
    await Promise.all(this.#workers.map((w) => new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    })));
    if (this.#scenario.consumer === 'main') this.#consumer = new WakeupConsumer(tb, this.#scenario, this.#sync, this.#times);
  }

  /** One wake-up latency in ns (rounds whose consumer was not asleep are skipped and counted). */
  async sample(): Promise<number> {
    for (let attempt = 0; attempt < MAX_SKIPS; attempt++) {
      const round = ++this.#round;
      let ns: number;
      try {
        let writeNs: number;
        if (this.#consumer !== undefined) {
          ns = await this.#consumer.roundAsync(round);
          writeNs = this.#times[Times.WRITE_NS]!;
        } else {
          signalWord(this.#sync, Sync.GO, round);
          awaitWord(this.#sync, Sync.DONE, round);
          ns = this.#times[Times.LATENCY]!;
          writeNs = this.#times[Times.WRITE_NS_COPY]!;
        }
        if (Number.isFinite(ns) && this.#recording) this.writeNs.push(writeNs);
      } catch (err) {
        throw this.#failure ?? err;
      }
      if (Number.isFinite(ns)) return ns;
      this.skipped++;
    }
    throw new Error(`${MAX_SKIPS} rounds in a row without a wake-up: ${scenarioName(this.#scenario)}`);
  }

  async stop(): Promise<void> {
    this.#consumer?.close();
    this.#consumer = undefined;
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers = [];
  }
}

/** Latency figures of one scenario, µs. */
export interface WakeupResult {
  readonly scenario: WakeupScenario;
  readonly name: string;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  readonly samples: number;
  /** Rounds without a sample (the consumer's wait returned at once). */
  readonly skipped: number;
  /** p50 of how long the waking write itself took in the producer (raw: add + notify), µs. */
  readonly p50WakingWriteUs: number;
}

/** Runs the benchmark, prints the report and writes `benchmarks/results/wakeup-latency.json`. */
export async function runWakeupLatency(
  wakeups = envInt('TRACEBUF_BENCH_WAKEUPS', SMOKE ? 20 : 1000),
  rounds = envInt('TRACEBUF_BENCH_WAKEUP_ROUNDS', SMOKE ? 1 : 2),
): Promise<WakeupResult[]> {
  const env = environment();
  console.log(`\n=== wakeup-latency: ${QUESTION}`);
  printEnvironment(env);
  console.log(
    `settings: ${wakeups} wake-ups per scenario in ${rounds} round(s) (each after ${Math.min(50, Math.ceil(wakeups / rounds))} warm-up), ring ${NR_SUBBUFS} × ${SUBBUF_SIZE} B, ` +
      `16-byte events, producer waits ${SETTLE_MS} ms after READY before writing`,
  );

  const runners = SCENARIOS.map((s) => new ScenarioRunner(s));
  const samplesUs = SCENARIOS.map((): number[] => []);
  // Rounds over every scenario, so that a noisy stretch of time does not fall on one scenario only.
  const perRound = Math.max(1, Math.ceil(wakeups / rounds));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      name: `wakeup-latency round ${round + 1}`,
      iterations: perRound,
      time: 0,
      warmupIterations: Math.min(50, perRound),
      warmupTime: 0,
      retainSamples: true,
      throws: true,
    });
    SCENARIOS.forEach((s, i) => {
      const runner = runners[i]!;
      bench.add(scenarioName(s), async () => ({ overriddenDuration: (await runner.sample()) / 1e6 }), {
        beforeAll: async (phase) => {
          await runner.start(phase ?? 'run');
        },
        afterAll: async () => {
          await runner.stop();
        },
      });
    });
    await bench.run();
    bench.tasks.forEach((task, i) => {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`task did not complete: ${task.name} state=${r.state}`);
      for (const ms of r.latency.samples ?? []) samplesUs[i]!.push(ms * 1000);
    });
  }

  const results: WakeupResult[] = SCENARIOS.map((scenario, i) => {
    const us = samplesUs[i]!;
    return {
      scenario,
      name: scenarioName(scenario),
      p50Us: median(us),
      p90Us: quantile(us, 0.9),
      p99Us: quantile(us, 0.99),
      meanUs: mean(us),
      minUs: Math.min(...us),
      maxUs: Math.max(...us),
      samples: us.length,
      skipped: runners[i]!.skipped,
      p50WakingWriteUs: median(runners[i]!.writeNs) / 1000,
    };
  });

  console.log('\nwake-up latency, µs (write that woke → consumer running):');
  printTable(
    ['scenario', 'p50 µs', 'p90 µs', 'p99 µs', 'mean µs', 'min µs', 'max µs', 'samples', 'skipped', 'waking write p50 µs'],
    results.map((r) => [
      r.name,
      fixed(r.p50Us),
      fixed(r.p90Us),
      fixed(r.p99Us),
      fixed(r.meanUs),
      fixed(r.minUs),
      fixed(r.maxUs),
      String(r.samples),
      String(r.skipped),
      fixed(r.p50WakingWriteUs, 2),
    ]),
  );
  const find = (consumer: 'worker' | 'main', mechanism: 'tracebuf' | 'raw', percent: number): WakeupResult =>
    results.find((r) => r.scenario.consumer === consumer && r.scenario.mechanism === mechanism && (mechanism === 'raw' || r.scenario.bufferPercent === percent))!;
  const over = (consumer: 'worker' | 'main', percent: number): string => {
    const d = find(consumer, 'tracebuf', percent).p50Us - find(consumer, 'raw', 0).p50Us;
    return `${d < 0 ? '-' : '+'}${fixed(Math.abs(d))} µs`;
  };
  const verdict =
    (SMOKE ? '[smoke, not meaningful] ' : '') +
    `p50 wake-up: worker mapping.wait ${fixed(find('worker', 'tracebuf', 0).p50Us)} µs (bufferPercent 0) / ${fixed(find('worker', 'tracebuf', 50).p50Us)} µs (50), ` +
    `main mapping.waitAsync ${fixed(find('main', 'tracebuf', 0).p50Us)} / ${fixed(find('main', 'tracebuf', 50).p50Us)} µs; ` +
    `over the raw primitive (p50): worker ${over('worker', 0)} / ${over('worker', 50)}, main ${over('main', 0)} / ${over('main', 50)}`;
  console.log(`\n${verdict}`);
  const path = writeResult('wakeup-latency', {
    benchmark: 'wakeup-latency',
    question: QUESTION,
    environment: env,
    settings: { wakeups, rounds, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, settleMs: SETTLE_MS, payloadLength: 16, clock: 'counter' },
    unit: 'µs',
    results,
    verdict,
  });
  console.log(`JSON: ${path}`);
  return results;
}

if (isMain(import.meta.url)) await runWakeupLatency();

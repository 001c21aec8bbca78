/**
 * Question: how much does a consumer draining as fast as it can slow its producer down?
 *
 * One producer worker writes 16-byte events with one `write()` each into a 4 KiB × 256 overwrite
 * ring (so it never waits for the consumer) and times itself; the main thread consumes at the
 * same time with one of the consumer loops a user writes, and the producer's own rate is compared
 * with its rate while nobody consumes, in the same run (the goal of issue 8: at most 1.2×):
 *
 * - `none`: nobody consumes (the producer alone; the denominator);
 * - `GET_READER loop`: `mapping.ioctl(GET_READER)` until nothing new, again and again;
 * - `wait + drain`: `mapping.wait({ bufferPercent: 50, timeoutMs: 1 })`, then GET_READER until
 *   nothing new;
 * - `consume()`: `for await (const e of tb.consume())`;
 * - `rawStream()`: the `Readable` of whole sub-buffers.
 *
 * Every round runs as one tinybench iteration (the task's time is the round's wall time); the
 * table reports the median of the producer's own rates over the rounds. Clocks `counter` and
 * `local`.
 *
 * Run: `node benchmarks/dist/consumer-slowdown.js`. Env: TRACEBUF_BENCH_SMOKE=1,
 * TRACEBUF_BENCH_SLOWDOWN_EVENTS (events per round), TRACEBUF_BENCH_SLOWDOWN_ROUNDS.
 *
 * @packageDocumentation
 */
import { Worker } from 'node:worker_threads';
import { SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { Bench } from 'tinybench';
import { SMOKE, envInt, environment, fixed, isMain, median, printEnvironment, printTable, writeResult } from './common.js';

/** Word indexes of the control array shared with the producer worker. */
export const SlowdownWord = { GO: 0, DONE: 1 } as const;

/** Resolves once the producer has finished round `round` (its DONE word reaches it). */
function roundDone(words: Int32Array, round: number): Promise<void> {
  const w = Atomics.waitAsync(words, SlowdownWord.DONE, round - 1);
  // DONE is round − 1 while the round runs (wait for the notify) or round once it is over.
  return w.async ? w.value.then(() => undefined) : Promise.resolve();
}

/** The question this script answers. */
export const QUESTION = 'how much does a consumer draining as fast as it can slow its producer down (producer rate alone ÷ with the consumer)?';

const GOAL_RATIO = 1.2;
const EVENTS = envInt('TRACEBUF_BENCH_SLOWDOWN_EVENTS', SMOKE ? 50_000 : 4_000_000);
const ROUNDS = envInt('TRACEBUF_BENCH_SLOWDOWN_ROUNDS', SMOKE ? 1 : 5);
const CLOCKS = ['counter', 'local'] as const;
const CONSUMERS = ['none', 'GET_READER loop', 'wait + drain', 'consume()', 'rawStream()'] as const;
type Consumer = (typeof CONSUMERS)[number];

/** Drains with GET_READER until nothing new (walking every event); returns the events seen. */
function drain(m: ReturnType<TraceBuffer['map']>, reader: SubbufReader, last: { id: number; read: number }): number {
  let events = 0;
  for (;;) {
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const { id, read } = m.meta.reader;
    if (id === last.id && read === last.read) return events;
    reader.load(m.bytes, m.subbufOffset(id), id === last.id ? last.read : 0, read);
    while (reader.next()) events++;
    last.id = id;
    last.read = read;
  }
}

/** Runs `consumer` until the producer's round is done; returns the events it saw. */
async function consumeRound(tb: TraceBuffer, consumer: Consumer, words: Int32Array, round: number): Promise<number> {
  const producing = (): boolean => Atomics.load(words, SlowdownWord.DONE) !== round;
  let events = 0;
  if (consumer === 'none') {
    await roundDone(words, round);
  } else if (consumer === 'GET_READER loop' || consumer === 'wait + drain') {
    const m = tb.map(0);
    const reader = new SubbufReader();
    const last = { id: m.meta.reader.id, read: m.meta.reader.read };
    while (producing()) {
      if (consumer === 'wait + drain') m.wait({ bufferPercent: 50, timeoutMs: 1 });
      events += drain(m, reader, last);
    }
    m.unmap();
  } else if (consumer === 'consume()') {
    const ac = new AbortController();
    void roundDone(words, round).then(() => ac.abort());
    try {
      for await (const _ of tb.consume({ signal: ac.signal })) events++;
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  } else {
    const stream = tb.rawStream(0);
    void roundDone(words, round).then(() => stream.destroy());
    stream.on('data', (chunk: Buffer) => {
      events += chunk.length;
    });
    await new Promise((resolve) => stream.once('close', resolve));
  }
  return events;
}

async function measure(clock: (typeof CLOCKS)[number]): Promise<Map<Consumer, number[]>> {
  const rates = new Map<Consumer, number[]>(CONSUMERS.map((c) => [c, []]));
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 256, overwrite: true, clock });
  const control = new SharedArrayBuffer(8);
  const words = new Int32Array(control);
  const worker = new Worker(new URL('./consumer-slowdown-producer.js', import.meta.url), {
    workerData: { handle: tb.handle, control, events: EVENTS },
  });
  worker.on('error', (err) => {
    throw err;
  });
  let round = 0;
  try {
    const bench = new Bench({ iterations: ROUNDS, warmupIterations: 0, time: 0, warmupTime: 0, throws: true });
    for (const consumer of CONSUMERS) {
      bench.add(`${clock}: ${consumer}`, async () => {
        round++;
        const rate = new Promise<number>((resolve) => worker.once('message', resolve));
        Atomics.store(words, SlowdownWord.GO, round);
        Atomics.notify(words, SlowdownWord.GO);
        await consumeRound(tb, consumer, words, round);
        rates.get(consumer)!.push(await rate);
      });
    }
    await bench.run();
  } finally {
    Atomics.store(words, SlowdownWord.GO, -1);
    Atomics.notify(words, SlowdownWord.GO);
    await worker.terminate();
  }
  return rates;
}

if (isMain(import.meta.url)) {
  const env = environment();
  console.log(`=== consumer-slowdown: ${QUESTION}`);
  printEnvironment(env);
  console.log(`settings: ${EVENTS} events of 16 B per round, ${ROUNDS} rounds per consumer, 4 KiB × 256 overwrite ring, one producer worker\n`);
  const rows: string[][] = [];
  const results: { clock: string; consumer: Consumer; producerMEventsPerS: number; slowdown: number }[] = [];
  for (const clock of CLOCKS) {
    const rates = await measure(clock);
    const alone = median(rates.get('none')!);
    for (const consumer of CONSUMERS) {
      const rate = median(rates.get(consumer)!);
      const slowdown = alone / rate;
      results.push({ clock, consumer, producerMEventsPerS: rate, slowdown });
      rows.push([clock, consumer, fixed(rate, 2), consumer === 'none' ? '1 (denominator)' : `${fixed(slowdown, 2)}×${slowdown <= GOAL_RATIO ? ' met' : ' NOT met'}`]);
    }
  }
  printTable(['clock', 'consumer on the main thread', "producer's rate, M events/s (median)", 'slowdown (alone ÷ with it)'], rows);
  const worst = results.filter((r) => r.consumer !== 'none').reduce((a, b) => (b.slowdown > a.slowdown ? b : a));
  const verdict =
    worst.slowdown <= GOAL_RATIO
      ? `goal MET: every consumer costs its producer at most ${GOAL_RATIO}× (worst ${fixed(worst.slowdown, 2)}×)`
      : `goal NOT met: worst ${fixed(worst.slowdown, 2)}× (${worst.clock}, ${worst.consumer}); goal ≤ ${GOAL_RATIO}×`;
  console.log(`\n${verdict}`);
  writeResult('consumer-slowdown', { question: QUESTION, environment: env, events: EVENTS, rounds: ROUNDS, results, goal: { ratio: GOAL_RATIO, verdict } });
}

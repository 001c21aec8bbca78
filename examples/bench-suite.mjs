// A benchmark suite run in this thread with tinybench, then sharded across a piscina pool: the
// pool threads run their share of the tasks and stream every latency sample through a tracebuf
// buffer; the main thread builds the same statistics (samples, mean, p50, p99) from them,
// without a message per sample, and prints the same table.
//
//   npm run -s build && node examples/bench-suite.mjs
//
// This one file is both the main program and the pool's task file.
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { TraceBuffer } from '@tracebuf/core';
import { createProducerPool, poolBuffer, poolProducer } from '@tracebuf/node/piscina';
import { TelemetryAggregator, benchRows, formatBenchTable, isBenchMetric, streamBench, tinybenchRows } from '@tracebuf/telemetry';
import { Bench } from 'tinybench';

/** The suite: name → function. */
const TASKS = {
  'JSON.stringify small object': () => JSON.stringify({ a: 1, b: 'two', c: [3] }),
  'Array.from 100': () => Array.from({ length: 100 }, (_, i) => i),
  'string concat 20': () => {
    let s = '';
    for (let i = 0; i < 20; i++) s += i;
    return s;
  },
  'Map set/get 50': () => {
    const m = new Map();
    for (let i = 0; i < 50; i++) m.set(i, i);
    return m.get(25);
  },
};
const OPTIONS = { time: 100, warmupTime: 20, retainSamples: true };

function suite(names) {
  const bench = new Bench(OPTIONS);
  for (const name of names) bench.add(name, TASKS[name]);
  return bench;
}

// Task file (runs in the pool's threads): its share of the suite, samples into the ring.
export default async function shard({ names }) {
  const bench = suite(names);
  streamBench(bench, poolBuffer(), poolProducer());
  await bench.run();
  return names.length;
}

if (isMainThread) {
  const names = Object.keys(TASKS);
  const local = suite(names);
  await local.run();
  console.log('in this thread (tinybench):');
  console.log(formatBenchTable(tinybenchRows(local)));

  // A ring with room for the samples (~28 bytes each); the aggregator drains while the pool runs.
  const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 8192, overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 28 });
  const aggregator = new TelemetryAggregator(tb, { keepSamples: isBenchMetric, spans: false });
  const ac = new AbortController();
  const draining = aggregator.run({ signal: ac.signal });
  const pool = createProducerPool({ tb, filename: fileURLToPath(import.meta.url), maxThreads: 2 });
  const shards = [names.filter((_, i) => i % 2 === 0), names.filter((_, i) => i % 2 === 1)];
  await Promise.all(shards.map((share) => pool.run({ names: share })));
  await pool.destroy();
  ac.abort();
  await draining;
  console.log('\nsharded across 2 workers (every sample through the ring):');
  console.log(formatBenchTable(benchRows(aggregator, names)));
  const dropped = tb.stats(0).droppedEvents + tb.stats(1).droppedEvents;
  console.log(`samples lost: ${aggregator.total().lost} overwritten, ${dropped} dropped (ring full)`);
  aggregator.close();
}

/**
 * Question: what does a log call cost the thread that makes it, and how many lines per second
 * reach the file, with `@tracebuf/log` next to pino's modes in the same run? (issue 10)
 *
 * The same statements (a message with two arguments and a merging object with three fields, from
 * a child logger with one binding) through:
 *
 * - `@tracebuf/log`: `createLogger(tb).child(...)`; the call stores a binary record; a
 *   `LogConsumer` formats the lines (in another thread for the end-to-end figure);
 * - `pino` to a synchronous destination (`pino.destination({ sync: true })`);
 * - `pino` to an asynchronous destination (`pino.destination({ sync: false })`, sonic-boom);
 * - `pino.transport` (`pino/file` in a thread-stream worker).
 *
 * 1. **Producer side**: ns per call in the calling thread, batches of calls per tinybench
 *    iteration. For ours the ring is in overwrite mode and nothing consumes (the call's cost
 *    alone); pino's modes write to /dev/null.
 * 2. **End to end**: lines per second from the first call until the last line is in a file, for
 *    `TRACEBUF_LOG_LINES` lines (median of 5, after one unmeasured run of each mode; our producer
 *    thread also warms its code with calls into a scratch buffer first, as pino's calls ran in
 *    the main thread before). Ours: the calls in a worker thread, the consumer in the main thread
 *    (`consumer.run()`), producer/consumer mode so nothing is lost. pino: the calls, then the
 *    flush (and for the transport, its worker's end). The clock starts at the first call: the
 *    thread that makes the calls (ours) and the transport's worker (pino.transport) are started
 *    and ready before it, as an application's threads are. The time including their start-up is
 *    reported beside it.
 * 3. **Same content**: the files of the end-to-end runs, with `time` removed, are compared line
 *    by line.
 *
 * Goals (issue 10): producer side ≥ 10× lower than pino's best mode; end to end ≥ 3× pino's best.
 *
 * Run: `node benchmarks/dist/log.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_SMOKE=1, TRACEBUF_BENCH_TIME_MS, TRACEBUF_BENCH_ROUNDS, TRACEBUF_LOG_LINES.
 *
 * @packageDocumentation
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { TraceBuffer, type TraceBufferHandle } from '@tracebuf/core';
import { LogConsumer, createLogger } from '@tracebuf/log';
import { pino } from 'pino';
import { Bench } from 'tinybench';
import { SMOKE, envInt, environment, fixed, isMain, median, printEnvironment, printTable, writeResult } from './common.js';

/** The question this script answers (printed and stored in the JSON). */
export const QUESTION = 'log call cost in the calling thread, and lines per second to a file: @tracebuf/log vs pino';

/** Producer-side goal: ours at most this fraction of pino's best mode. */
export const PRODUCER_GOAL = 10;
/** End-to-end goal: ours at least this many times pino's best mode. */
export const THROUGHPUT_GOAL = 3;

/** The statements every mode runs: one call per line. */
type Log = { info: (obj: object, msg: string, ...args: unknown[]) => void };

function statement(log: Log, i: number): void {
  log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast');
}

const NR_SUBBUFS = 1024;

/** End-to-end runs of each mode (the median is reported). */
const E2E_RUNS = SMOKE ? 1 : 5;

/** Calls a fresh producer thread makes before the end-to-end clock starts (V8 optimizes the code over the first ~10⁵). */
const WARM_UP_CALLS = SMOKE ? 1000 : 300_000;

/** The calls of the end-to-end run of ours, in a worker (see the bottom of the file). */
function producerThread(): void {
  const { handle, lines, go } = workerData as { handle: TraceBufferHandle; lines: number; go: Int32Array };
  // Warm code, as pino's is (its calls ran in the main thread before): the same statement into a
  // scratch buffer nobody reads, until V8 has optimized it.
  const warmStart = performance.now();
  const scratch = TraceBuffer.create({ cpus: 1, nrSubbufs: 64, overwrite: true, clock: 'local' });
  const warm = createLogger(scratch).child({ component: 'bench' });
  for (let i = 0; i < WARM_UP_CALLS; i++) statement(warm, i);
  const warmMs = performance.now() - warmStart;
  const log = createLogger(TraceBuffer.attach(handle)).child({ component: 'bench' });
  // Ready: the main thread starts its clock and lets the calls begin.
  parentPort!.postMessage({ ready: true, warmMs });
  Atomics.wait(go, 0, 0);
  for (let i = 0; i < lines; i++) statement(log, i);
  parentPort!.postMessage({ dropped: log.dropped });
}

/** Lines the producer of the end-to-end runs of ours could not store (should stay 0). */
let oursDropped = 0;

/** One end-to-end run: ms from the first call to the last line, and ms including the start-up. */
interface E2eTime {
  readonly ms: number;
  readonly withStartMs: number;
}

async function oursEndToEnd(file: string, lines: number): Promise<E2eTime> {
  const spawned = performance.now();
  // Room for every line (producer/consumer mode drops what does not fit; the run counts drops).
  const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: Math.max(NR_SUBBUFS, Math.ceil((lines * 200) / 4096)), overwrite: false, clock: 'local', maxBytesPerCpu: 1 << 30 });
  const consumer = new LogConsumer(tb, { destination: file });
  const go = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, lines, go, role: 'producer' } });
  let started = 0;
  let warmMs = 0;
  const done = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { ready?: true; warmMs?: number; dropped?: number }) => {
      if (m.ready === true) {
        started = performance.now();
        warmMs = m.warmMs!;
        Atomics.store(go, 0, 1);
        Atomics.notify(go, 0);
        return;
      }
      oursDropped += m.dropped!;
      resolve();
    });
    worker.once('error', reject);
  });
  // The consumer as users run it: `run()` drains, then waits (waitAsync) for the producer's next
  // sub-buffer, until the producer is done; then a last drain.
  const ac = new AbortController();
  void done.then(() => ac.abort());
  await consumer.run({ signal: ac.signal });
  await done;
  consumer.close();
  const end = performance.now();
  await worker.terminate();
  // (The warm-up is not start-up: a thread that has logged before has warm code.)
  return { ms: end - started, withStartMs: end - spawned - warmMs };
}

async function pinoEndToEnd(mode: 'sync' | 'async' | 'transport', file: string, lines: number): Promise<E2eTime> {
  // thread-stream's worker is unref'd: without a timer the process could end while it flushes.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await pinoRun(mode, file, lines);
  } finally {
    clearInterval(keepAlive);
  }
}

async function pinoRun(mode: 'sync' | 'async' | 'transport', file: string, lines: number): Promise<E2eTime> {
  const spawned = performance.now();
  let started = spawned;
  if (mode === 'transport') {
    const transport = pino.transport({ target: 'pino/file', options: { destination: file } });
    const log = pino(transport).child({ component: 'bench' });
    await new Promise<void>((resolve) => transport.once('ready', () => resolve()));
    started = performance.now();
    for (let i = 0; i < lines; i++) statement(log, i);
    await new Promise<void>((resolve) => {
      transport.once('close', () => resolve());
      transport.end();
    });
  } else {
    const dest = pino.destination({ dest: file, sync: mode === 'sync' });
    const log = pino(dest).child({ component: 'bench' });
    for (let i = 0; i < lines; i++) statement(log, i);
    if (mode === 'async') {
      await new Promise<void>((resolve) => {
        dest.once('close', () => resolve());
        dest.end();
      });
    } else {
      dest.flushSync();
    }
  }
  const end = performance.now();
  return { ms: end - started, withStartMs: end - spawned };
}

/** Runs the benchmark, prints the report and writes `benchmarks/results/log.json`. */
export async function runLog(): Promise<unknown> {
  const env = environment();
  const timeMs = envInt('TRACEBUF_BENCH_TIME_MS', SMOKE ? 10 : 400);
  const rounds = envInt('TRACEBUF_BENCH_ROUNDS', SMOKE ? 1 : 3);
  const batch = SMOKE ? 100 : 1000;
  const lines = envInt('TRACEBUF_LOG_LINES', SMOKE ? 2000 : 200_000);
  console.log(`\n=== log: ${QUESTION}`);
  printEnvironment(env);

  // 1. Producer side.
  const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: NR_SUBBUFS, overwrite: true, clock: 'local' });
  const ours = createLogger(tb).child({ component: 'bench' });
  const sync = pino(pino.destination({ dest: '/dev/null', sync: true })).child({ component: 'bench' });
  const asyncDest = pino.destination({ dest: '/dev/null', sync: false });
  const asyncLog = pino(asyncDest).child({ component: 'bench' });
  const transport = pino.transport({ target: 'pino/file', options: { destination: '/dev/null' } });
  const transported = pino(transport).child({ component: 'bench' });
  const modes: [string, Log][] = [
    ['@tracebuf/log', ours],
    ['pino sync destination', sync],
    ['pino async destination', asyncLog],
    ['pino.transport', transported],
  ];
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ name: `log round ${round + 1}`, time: timeMs, warmupTime: SMOKE ? 5 : 100, retainSamples: true, throws: true });
    for (const [name, log] of modes) {
      bench.add(name, () => {
        for (let i = 0; i < batch; i++) statement(log, i);
      });
    }
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`task did not complete: ${task.name} state=${r.state}`);
      const all = samples.get(task.name) ?? [];
      for (const ms of r.latency.samples ?? []) all.push((ms * 1e6) / batch);
      samples.set(task.name, all);
    }
  }
  {
    // (thread-stream's worker is unref'd: a timer keeps the process up while it closes.)
    const keepAlive = setInterval(() => {}, 1000);
    await new Promise<void>((resolve) => {
      transport.once('close', () => resolve());
      transport.end();
    });
    clearInterval(keepAlive);
  }
  const producerNs = new Map([...samples].map(([k, v]) => [k, median(v)]));
  const bestPinoNs = Math.min(...modes.slice(1).map(([name]) => producerNs.get(name)!));
  console.log(`\n1. producer side: ns per call (median of batches of ${batch}), ${rounds} round(s)`);
  printTable(
    ['mode', 'ns per call', 'pino best ÷ this'],
    modes.map(([name]) => [name, fixed(producerNs.get(name)!), `${fixed(bestPinoNs / producerNs.get(name)!, 2)}×`]),
  );

  // 2. End to end, and 3. same content.
  const dir = mkdtempSync(join(tmpdir(), 'tracebuf-log-bench-'));
  const e2eModes = ['@tracebuf/log', 'pino sync destination', 'pino async destination', 'pino.transport'] as const;
  const e2eMs = new Map<string, number[]>();
  const e2eWithStartMs = new Map<string, number[]>();
  const files = new Map<string, string>();
  const runMode = (mode: (typeof e2eModes)[number], file: string, n: number): Promise<E2eTime> =>
    mode === '@tracebuf/log'
      ? oursEndToEnd(file, n)
      : pinoEndToEnd(mode === 'pino sync destination' ? 'sync' : mode === 'pino async destination' ? 'async' : 'transport', file, n);
  // One unmeasured run of each mode first: pino's code ran in this thread above, our consumer's
  // did not.
  for (const mode of e2eModes) await runMode(mode, join(dir, 'warm-up.ndjson'), Math.min(lines, 50_000));
  oursDropped = 0;
  for (let rep = 0; rep < E2E_RUNS; rep++) {
    for (const mode of e2eModes) {
      const file = join(dir, `${mode.replace(/\W+/g, '-')}-${rep}.ndjson`);
      const t = await runMode(mode, file, lines);
      if (process.env['TRACEBUF_LOG_DEBUG']) console.error(mode, rep, t.ms, t.withStartMs);
      e2eMs.set(mode, [...(e2eMs.get(mode) ?? []), t.ms]);
      e2eWithStartMs.set(mode, [...(e2eWithStartMs.get(mode) ?? []), t.withStartMs]);
      files.set(mode, file);
    }
  }
  const linesPerS = new Map(e2eModes.map((m) => [m, lines / (median(e2eMs.get(m)!) / 1000)]));
  const bestPinoLps = Math.max(...e2eModes.slice(1).map((m) => linesPerS.get(m)!));
  const withStartLps = new Map(e2eModes.map((m) => [m, lines / (median(e2eWithStartMs.get(m)!) / 1000)]));
  const bestPinoWithStartLps = Math.max(...e2eModes.slice(1).map((m) => withStartLps.get(m)!));
  console.log(`\n2. end to end: ${lines} lines to a file (median of ${E2E_RUNS}); @tracebuf/log dropped ${oursDropped}`);
  console.log('   from the first call; and with the start-up of the calling thread (ours) or the transport worker');
  printTable(
    ['mode', 'ms', 'lines/s', 'this ÷ pino best', 'ms with start-up', 'lines/s', 'this ÷ pino best'],
    e2eModes.map((m) => [
      m,
      fixed(median(e2eMs.get(m)!)),
      fixed(linesPerS.get(m)!, 0),
      `${fixed(linesPerS.get(m)! / bestPinoLps, 2)}×`,
      fixed(median(e2eWithStartMs.get(m)!)),
      fixed(withStartLps.get(m)!, 0),
      `${fixed(withStartLps.get(m)! / bestPinoWithStartLps, 2)}×`,
    ]),
  );
  const strip = (text: string): string[] =>
    text
      .trim()
      .split('\n')
      .map((l) => l.replace(/"time":\d+,/, ''));
  const reference = strip(readFileSync(files.get('pino sync destination')!, 'utf8'));
  const same = e2eModes.map((m) => {
    const got = strip(readFileSync(files.get(m)!, 'utf8'));
    return { mode: m, lines: got.length, identical: got.length === reference.length && got.every((l, i) => l === reference[i]) };
  });
  console.log('\n3. same content (time removed) as pino sync destination:');
  printTable(
    ['mode', 'lines', 'identical'],
    same.map((s) => [s.mode, String(s.lines), s.identical ? 'yes' : 'NO']),
  );
  rmSync(dir, { recursive: true, force: true });

  const oursNs = producerNs.get('@tracebuf/log')!;
  const producerRatio = bestPinoNs / oursNs;
  const throughputRatio = linesPerS.get('@tracebuf/log')! / bestPinoLps;
  const withStartRatio = withStartLps.get('@tracebuf/log')! / bestPinoWithStartLps;
  const verdict =
    `producer side ${fixed(oursNs)} ns vs pino best ${fixed(bestPinoNs)} ns = ${fixed(producerRatio, 2)}× lower (goal ${PRODUCER_GOAL}×: ${producerRatio >= PRODUCER_GOAL ? 'met' : 'NOT met'}); ` +
    `end to end ${fixed(linesPerS.get('@tracebuf/log')!, 0)} lines/s = ${fixed(throughputRatio, 2)}× pino best (goal ${THROUGHPUT_GOAL}×: ${throughputRatio >= THROUGHPUT_GOAL ? 'met' : 'NOT met'}; ${fixed(withStartRatio, 2)}× with start-up); ` +
    `content identical: ${same.every((s) => s.identical) ? 'yes' : 'NO'}`;
  console.log(`\nverdict: ${verdict}`);
  const result = {
    question: QUESTION,
    environment: env,
    producerNs: Object.fromEntries(producerNs),
    endToEnd: Object.fromEntries(
      e2eModes.map((m) => [m, { ms: e2eMs.get(m), linesPerS: linesPerS.get(m), withStartMs: e2eWithStartMs.get(m), withStartLinesPerS: withStartLps.get(m) }]),
    ),
    sameContent: same,
    oursDropped,
    goal: { producerRatio, throughputRatio, withStartRatio, verdict },
  };
  writeResult('log', result);
  return result;
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === 'producer') producerThread();
else if (isMain(import.meta.url)) await runLog();

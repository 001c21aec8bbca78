/**
 * Question: what does a GET_READER cost when a consumer worker that holds only a control-channel
 * port drives it through comlink (`RemoteMapping.ioctl`, a round trip to the owner thread), next
 * to the same call in the owner's own thread (`Mapping.ioctl`)?
 *
 * Both on an empty buffer (the call alone: the consumer has caught up) and handing out one full
 * 4 KiB sub-buffer per call (204 events of 16-byte payloads, as in `get-reader`). Three places:
 *  - in-thread: core `Mapping.ioctl` in the owner (the reference);
 *  - channel, same thread: `RemoteMapping.ioctl` with both ends of a MessageChannel in the owner
 *    (comlink + structured clone, no thread hop);
 *  - channel, worker: `RemoteMapping.ioctl` from a consumer worker, the owner serving from its
 *    event loop (what a real consumer pays).
 * Each call is awaited before the next one (latency, not pipelined throughput). Baseline: a bare
 * `postMessage` round trip from the worker to the owner and back, what any channel call rides on. Untimed, before
 * each full-sub-buffer batch, the owner's producer fills exactly `pages` sub-buffers; after it,
 * the meta page must say exactly `pages × 204` events were handed out.
 *
 * Run: `node benchmarks/dist/get-reader-channel.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_SMOKE=1, TRACEBUF_BENCH_TIME_MS, TRACEBUF_BENCH_PAGES.
 *
 * @packageDocumentation
 */
import { once } from 'node:events';
import { MessageChannel, type MessagePort, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  SUBBUF_HEADER_LENGTH,
  TRACE_MMAP_IOCTL_GET_READER,
  TraceBuffer,
  eventLength,
  type Mapping,
  type Producer,
} from '@tracebuf/core';
import { type RemoteMapping, connectControl, exposeControl } from '@tracebuf/node';
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

/** The question this script answers. */
export const QUESTION =
  'what does GET_READER cost through the comlink control channel from a consumer worker, next to the same call in the owner thread?';

const SUBBUF_SIZE = 4096;
/** 16-byte payloads make 20-byte events: 204 per sub-buffer, the kernel measurement's page. */
const PAYLOAD_LENGTH = 16;
/** cpu slot whose sub-buffers are filled before each full-sub-buffer batch. */
const FULL_CPU = 0;
/** cpu slot that stays empty (the consumer has caught up). */
const EMPTY_CPU = 1;
/** Name of the baseline task: a bare postMessage round trip from the worker to the owner. */
const POST_MESSAGE_TASK = 'postMessage round trip from a worker (baseline, no comlink)';
/** `workerData.role` of this script's consumer worker. */
const WORKER_ROLE = 'get-reader-channel-consumer';

/** Settings of {@link runGetReaderChannel}. */
export interface GetReaderChannelOptions {
  /** tinybench time budget per task, ms. */
  readonly timeMs: number;
  readonly warmupMs: number;
  /** Full sub-buffers filled and handed out per task iteration. */
  readonly pages: number;
  /** GET_READER calls per iteration on the empty buffer. */
  readonly emptyBatch: number;
}

/** Settings from the environment (smaller in smoke mode). */
export function getReaderChannelOptions(): GetReaderChannelOptions {
  return {
    timeMs: envInt('TRACEBUF_BENCH_TIME_MS', SMOKE ? 20 : 1500),
    warmupMs: SMOKE ? 5 : 200,
    pages: envInt('TRACEBUF_BENCH_PAGES', SMOKE ? 8 : 64),
    emptyBatch: SMOKE ? 20 : 200,
  };
}

/** Figures of one measured operation, ns per call. */
export interface ChannelResult {
  readonly name: string;
  readonly place: 'in-thread' | 'channel, same thread' | 'channel, worker' | 'postMessage, worker';
  readonly buffer: 'empty' | 'full sub-buffer';
  readonly p50Ns: number;
  readonly meanNs: number;
  readonly p99Ns: number;
  readonly minNs: number;
  readonly calls: number;
}

/** Per-call ns samples of one task (a sample is one batch of `callsPerBatch` calls). */
interface Samples {
  readonly name: string;
  readonly perCallNs: number[];
  readonly callsPerBatch: number;
  readonly problems: string[];
}

/** One place's GET_READER calls, its untimed refill, and the full mapping's meta `read`. */
interface Place<R> {
  readonly label: string;
  readonly empty: () => R;
  readonly full: () => R;
  readonly fill: () => R extends Promise<unknown> ? Promise<void> | void : void;
  readonly read: () => number;
}

/** Checks one full-sub-buffer batch: exactly `pages` sub-buffers' worth of events handed out. */
function checkRound(label: string, handedOut: number, opts: GetReaderChannelOptions, eventsPerRound: number, problems: string[]): void {
  if (handedOut !== eventsPerRound) problems.push(`${label}: ${opts.pages} calls handed out ${handedOut} events, expected ${eventsPerRound}`);
}

/** Adds the two tasks (empty buffer, full sub-buffers) of an in-thread place: plain sync loops. */
function addSyncTasks(bench: Bench, p: Place<number>, opts: GetReaderChannelOptions, eventsPerRound: number, problems: string[]): void {
  bench.add(`${p.label}, empty buffer`, () => {
    const t0 = performance.now();
    for (let k = 0; k < opts.emptyBatch; k++) p.empty();
    return { overriddenDuration: performance.now() - t0 };
  });
  bench.add(`${p.label}, full sub-buffer`, () => {
    const t0 = performance.now();
    p.fill();
    const before = p.read();
    const t1 = performance.now();
    for (let k = 0; k < opts.pages; k++) p.full();
    const t2 = performance.now();
    checkRound(p.label, p.read() - before, opts, eventsPerRound, problems);
    return { overriddenDuration: t2 - t1, overriddenIterationCost: performance.now() - t0 };
  });
}

/** Adds the two tasks of a channel place: each call awaited before the next. */
function addAsyncTasks(bench: Bench, p: Place<Promise<number>>, opts: GetReaderChannelOptions, eventsPerRound: number, problems: string[]): void {
  bench.add(`${p.label}, empty buffer`, async () => {
    const t0 = performance.now();
    for (let k = 0; k < opts.emptyBatch; k++) await p.empty();
    return { overriddenDuration: performance.now() - t0 };
  });
  bench.add(`${p.label}, full sub-buffer`, async () => {
    const t0 = performance.now();
    await p.fill();
    const before = p.read();
    const t1 = performance.now();
    for (let k = 0; k < opts.pages; k++) await p.full();
    const t2 = performance.now();
    checkRound(p.label, p.read() - before, opts, eventsPerRound, problems);
    return { overriddenDuration: t2 - t1, overriddenIterationCost: performance.now() - t0 };
  });
}

function samplesOf(bench: Bench, opts: GetReaderChannelOptions, problems: string[]): Samples[] {
  return bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`task did not complete: ${task.name} state=${r.state}`);
    const callsPerBatch = task.name.endsWith('full sub-buffer') ? opts.pages : opts.emptyBatch;
    return { name: task.name, perCallNs: (r.latency.samples ?? []).map((ms) => (ms * 1e6) / callsPerBatch), callsPerBatch, problems };
  });
}

// ------------------------------------------------------------------------------------------------
// Consumer worker: holds only the control port; the owner fills on request over parentPort.
// ------------------------------------------------------------------------------------------------

async function consumerWorker(): Promise<void> {
  const { port, echoPort, opts, eventsPerRound } = workerData as {
    port: MessagePort;
    echoPort: MessagePort;
    opts: GetReaderChannelOptions;
    eventsPerRound: number;
  };
  const owner = parentPort!;
  const client = connectControl(port);
  const full = await client.map(FULL_CPU);
  const empty = await client.map(EMPTY_CPU);
  const fill = async (): Promise<void> => {
    const filled = once(owner, 'message');
    owner.postMessage({ fill: true });
    await filled;
  };
  const problems: string[] = [];
  const bench = new Bench({ name: 'get-reader-channel (worker)', time: opts.timeMs, warmupTime: opts.warmupMs, retainSamples: true, throws: true });
  const place: Place<Promise<number>> = {
    label: 'channel, worker',
    empty: () => empty.ioctl(TRACE_MMAP_IOCTL_GET_READER),
    full: () => full.ioctl(TRACE_MMAP_IOCTL_GET_READER),
    fill,
    read: () => full.meta.read,
  };
  addAsyncTasks(bench, place, opts, eventsPerRound, problems);
  // Baseline: the bare round trip of a small message to the owner and back (no comlink, no work).
  let echoed: (() => void) | undefined;
  echoPort.on('message', () => echoed?.());
  const roundTrip = (): Promise<void> =>
    new Promise((resolve) => {
      echoed = resolve;
      echoPort.postMessage(0);
    });
  bench.add(POST_MESSAGE_TASK, async () => {
    const t0 = performance.now();
    for (let k = 0; k < opts.emptyBatch; k++) await roundTrip();
    return { overriddenDuration: performance.now() - t0 };
  });
  await bench.run();
  echoPort.close();
  const samples = samplesOf(bench, opts, problems);
  await full.unmap();
  await empty.unmap();
  client.close();
  owner.postMessage({ samples });
}

// ------------------------------------------------------------------------------------------------
// Owner
// ------------------------------------------------------------------------------------------------

/** Figures of `s`; the baseline (no GET_READER) is compared with the empty-buffer call. */
function summarize(s: Samples, place: ChannelResult['place']): ChannelResult {
  return {
    name: s.name,
    place,
    buffer: s.name.endsWith('full sub-buffer') ? 'full sub-buffer' : 'empty',
    p50Ns: median(s.perCallNs),
    meanNs: mean(s.perCallNs),
    p99Ns: quantile(s.perCallNs, 0.99),
    minNs: Math.min(...s.perCallNs),
    calls: s.perCallNs.length * s.callsPerBatch,
  };
}

/** Runs the benchmark, prints the report and writes `benchmarks/results/get-reader-channel.json`. */
export async function runGetReaderChannel(opts: GetReaderChannelOptions = getReaderChannelOptions()): Promise<ChannelResult[]> {
  const env = environment();
  console.log(`\n=== get-reader-channel: ${QUESTION}`);
  printEnvironment(env);
  const eventBytes = eventLength(PAYLOAD_LENGTH);
  const perPage = Math.floor((SUBBUF_SIZE - SUBBUF_HEADER_LENGTH) / eventBytes);
  const eventsPerRound = opts.pages * perPage;
  console.log(
    `settings: ${eventBytes}-byte events, ${perPage} per ${SUBBUF_SIZE}-byte sub-buffer; ${opts.pages} full sub-buffers per iteration, ` +
      `${opts.emptyBatch} empty-buffer calls per iteration, ${opts.timeMs} ms per task; every call awaited before the next`,
  );

  // Reader sub-buffer + `pages` full ones + one spare: the producer never reaches the head.
  const tb = TraceBuffer.create({ cpus: 2, subbufSize: SUBBUF_SIZE, nrSubbufs: opts.pages + 3, overwrite: false, clock: 'counter' });
  const producer: Producer = tb.producer(FULL_CPU);
  const payload = fillerBytes(PAYLOAD_LENGTH);
  let dropped = 0;
  const fill = (): void => {
    for (let i = 0; i < eventsPerRound; i++) if (!producer.write(payload)) dropped++;
  };
  const problems: string[] = [];

  // --- in-thread and same-thread channel, timed here ----------------------------------------------
  const localFull: Mapping = tb.map(FULL_CPU);
  const localEmpty: Mapping = tb.map(EMPTY_CPU);
  const local = new MessageChannel();
  const disposeLocal = exposeControl(tb, local.port1);
  const localClient = connectControl(local.port2);
  const remoteFull: RemoteMapping = await localClient.map(FULL_CPU);
  const remoteEmpty: RemoteMapping = await localClient.map(EMPTY_CPU);

  const bench = new Bench({ name: 'get-reader-channel', time: opts.timeMs, warmupTime: opts.warmupMs, retainSamples: true, throws: true });
  const inThread: Place<number> = {
    label: 'in-thread',
    empty: () => localEmpty.ioctl(TRACE_MMAP_IOCTL_GET_READER),
    full: () => localFull.ioctl(TRACE_MMAP_IOCTL_GET_READER),
    fill,
    read: () => localFull.meta.read,
  };
  const sameThread: Place<Promise<number>> = {
    label: 'channel, same thread',
    empty: () => remoteEmpty.ioctl(TRACE_MMAP_IOCTL_GET_READER),
    full: () => remoteFull.ioctl(TRACE_MMAP_IOCTL_GET_READER),
    fill,
    read: () => remoteFull.meta.read,
  };
  addSyncTasks(bench, inThread, opts, eventsPerRound, problems);
  addAsyncTasks(bench, sameThread, opts, eventsPerRound, problems);
  await bench.run();
  const here = samplesOf(bench, opts, problems);
  localFull.unmap();
  localEmpty.unmap();
  localClient.close();
  disposeLocal();

  // --- consumer worker: it times; this thread fills on request and serves its calls -----------
  const channel = new MessageChannel();
  const disposeWorker = exposeControl(tb, channel.port1);
  const echo = new MessageChannel();
  echo.port1.on('message', (m: unknown) => echo.port1.postMessage(m));
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { role: WORKER_ROLE, port: channel.port2, echoPort: echo.port2, opts, eventsPerRound },
    transferList: [channel.port2, echo.port2],
  });
  let workerSamples: Samples[];
  try {
    workerSamples = await new Promise<Samples[]>((resolve, reject) => {
      worker.on('message', (msg: { fill?: true; samples?: Samples[] }) => {
        if (msg.fill === true) {
          fill();
          worker.postMessage({ filled: true });
        } else if (msg.samples !== undefined) resolve(msg.samples);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`consumer worker exited early: code=${code}`)));
    });
  } finally {
    await worker.terminate();
    disposeWorker();
    echo.port1.close();
  }
  for (const s of workerSamples) problems.push(...s.problems);
  if (dropped !== 0) problems.push(`${dropped} writes were dropped while filling (ring too small?)`);

  const results = [
    summarize(here[0]!, 'in-thread'),
    summarize(here[1]!, 'in-thread'),
    summarize(here[2]!, 'channel, same thread'),
    summarize(here[3]!, 'channel, same thread'),
    summarize(workerSamples[0]!, 'channel, worker'),
    summarize(workerSamples[1]!, 'channel, worker'),
    summarize(workerSamples[2]!, 'postMessage, worker'),
  ];
  const [inEmpty, inFull, sameEmpty, sameFull, workerEmpty, workerFull, postMessage] = results as [
    ChannelResult,
    ChannelResult,
    ChannelResult,
    ChannelResult,
    ChannelResult,
    ChannelResult,
    ChannelResult,
  ];

  console.log('\nns per GET_READER (p50 is the figure compared):');
  printTable(
    ['operation', 'p50 ns', 'mean ns', 'p99 ns', 'min ns', 'calls', '× in-thread (p50)'],
    results.map((r) => {
      const base = r.buffer === 'empty' ? inEmpty : inFull;
      return [r.name, fixed(r.p50Ns), fixed(r.meanNs), fixed(r.p99Ns), fixed(r.minNs), String(r.calls), `${fixed(r.p50Ns / base.p50Ns, 1)}×`];
    }),
  );
  const ratios = {
    workerOverInThreadEmpty: workerEmpty.p50Ns / inEmpty.p50Ns,
    workerOverInThreadFull: workerFull.p50Ns / inFull.p50Ns,
    sameThreadOverInThreadEmpty: sameEmpty.p50Ns / inEmpty.p50Ns,
    sameThreadOverInThreadFull: sameFull.p50Ns / inFull.p50Ns,
    /** What the channel adds to a full-sub-buffer GET_READER, per event handed out. */
    workerChannelNsPerEventFull: (workerFull.p50Ns - inFull.p50Ns) / perPage,
    /** The channel call over the bare port round trip it rides on (comlink's share). */
    workerEmptyOverPostMessage: workerEmpty.p50Ns / postMessage.p50Ns,
  };
  const verdict =
    `${SMOKE ? '[smoke, not meaningful] ' : ''}GET_READER through the channel from a worker: ${fixed(workerFull.p50Ns / 1000, 1)} µs ` +
    `(${fixed(ratios.workerOverInThreadFull, 0)}× in-thread) for a full sub-buffer, ${fixed(workerEmpty.p50Ns / 1000, 1)} µs ` +
    `(${fixed(ratios.workerOverInThreadEmpty, 0)}×) on an empty buffer`;
  console.log(
    `\nthe channel adds ≈ ${fixed(workerFull.p50Ns - inFull.p50Ns)} ns per call from a worker ` +
      `(${fixed(ratios.workerChannelNsPerEventFull, 1)} ns per event of a full sub-buffer); ` +
      `same thread, no hop: ≈ ${fixed(sameFull.p50Ns - inFull.p50Ns)} ns.`,
  );
  console.log(
    `a bare postMessage round trip from the worker takes ${fixed(postMessage.p50Ns)} ns: the empty-buffer channel call is ` +
      `${fixed(ratios.workerEmptyOverPostMessage, 1)}× that (comlink's messages and bookkeeping on top of the port).`,
  );
  console.log(verdict);
  for (const p of problems.slice(0, 5)) console.log(`PROBLEM: ${p}`);

  const path = writeResult('get-reader-channel', {
    benchmark: 'get-reader-channel',
    question: QUESTION,
    environment: env,
    settings: { ...opts, subbufSize: SUBBUF_SIZE, payloadLength: PAYLOAD_LENGTH, eventLength: eventBytes, eventsPerPage: perPage },
    unit: 'ns per call',
    results,
    ratios,
    verdict,
    problems,
  });
  console.log(`JSON: ${path}`);
  if (problems.length !== 0) process.exitCode = 1;
  return results;
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === WORKER_ROLE) await consumerWorker();
else if (isMainThread && isMain(import.meta.url)) await runGetReaderChannel();

/**
 * Question: what does one GET_READER cost — `mapping.ioctl(TRACE_MMAP_IOCTL_GET_READER)` handing
 * out a full 4 KiB sub-buffer, and on an empty buffer — next to the kernel's, measured in the same
 * run?
 *
 * The kernel is measured first, on this machine (`kernel-get-reader.ts`: a small C program on the
 * real `trace_pipe_raw` mmap, 20-byte `trace_marker_raw` events, 204 per 4 KiB sub-buffer, the
 * system call included; the kernel walks every event it hands out). Where it cannot run (not
 * root, no tracefs, no cc, a kernel before 6.10) the script says why and shows the figures of
 * kernel-semantics §9.2 for orientation, marked as not from this run. Goal (issue 8): a full-page
 * GET_READER ≤ 0.12× the kernel's (our swap is O(1): it keeps per-sub-buffer event counts).
 *
 * Setup: one ring, `clock: 'counter'` (no TIME_EXTEND can sneak in between events), producer/
 * consumer mode, 16-byte payloads: each event is 20 bytes, so a sub-buffer's 4080-byte data area
 * holds exactly 204 of them, as in the kernel measurement. Each task iteration (untimed) writes
 * exactly `pages × 204` events — filling `pages` whole sub-buffers — then times `pages`
 * consecutive GET_READER calls, each of which swaps in one full sub-buffer. After the timed part
 * it checks from the meta page that exactly `pages × 204` events were handed out.
 *
 * Run: `node benchmarks/dist/get-reader.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_SMOKE=1, TRACEBUF_BENCH_TIME_MS, TRACEBUF_BENCH_PAGES.
 *
 * @packageDocumentation
 */
import {
  SUBBUF_HEADER_LENGTH,
  SubbufReader,
  TRACE_MMAP_IOCTL_GET_READER,
  TraceBuffer,
  eventLength,
} from '@tracebuf/core';
import type { Mapping, Producer } from '@tracebuf/core';
import { Bench } from 'tinybench';
import { measureKernelGetReader } from './kernel-get-reader.js';
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
export const QUESTION = 'what does one GET_READER cost (full 4 KiB sub-buffer, and empty buffer), next to the kernel?';

const SUBBUF_SIZE = 4096;
/** 16-byte payloads make 20-byte events: 204 per sub-buffer, the kernel measurement's page. */
const PAYLOAD_LENGTH = 16;

/** The kernel's figures (kernel-semantics §9.2), ns. */
export const KERNEL = {
  fullPageNs: [6500, 8400],
  emptyNs: [360, 420],
  walkNs: 500,
  readPageNs: 1100,
  eventsPerPage: 204,
} as const;

/** The goal for a full-page GET_READER: at most this fraction of the kernel's, same run. */
export const GOAL_FULL_PAGE_RATIO = 0.12;

/** Figures of one measured operation, ns per call. */
export interface GetReaderResult {
  readonly name: string;
  readonly p50Ns: number;
  readonly meanNs: number;
  readonly p99Ns: number;
  readonly minNs: number;
  readonly batches: number;
  readonly calls: number;
}

/** Options of {@link runGetReader}. */
export interface GetReaderOptions {
  /** tinybench time budget per task, ms. */
  readonly timeMs: number;
  readonly warmupMs: number;
  /** Full sub-buffers filled and handed out per task iteration. */
  readonly pages: number;
  /** GET_READER calls per iteration on the empty buffer. */
  readonly emptyBatch: number;
}

/** Settings from the environment (smaller in smoke mode). */
export function getReaderOptions(): GetReaderOptions {
  return {
    timeMs: envInt('TRACEBUF_BENCH_TIME_MS', SMOKE ? 20 : 1500),
    warmupMs: SMOKE ? 5 : 200,
    pages: envInt('TRACEBUF_BENCH_PAGES', SMOKE ? 8 : 256),
    emptyBatch: SMOKE ? 100 : 1000,
  };
}

function summarize(name: string, perCallNs: readonly number[], callsPerBatch: number): GetReaderResult {
  return {
    name,
    p50Ns: median(perCallNs),
    meanNs: mean(perCallNs),
    p99Ns: quantile(perCallNs, 0.99),
    minNs: Math.min(...perCallNs),
    batches: perCallNs.length,
    calls: perCallNs.length * callsPerBatch,
  };
}

/** A mapped ring with its producer; `nrSubbufs` leaves room for `pages` full sub-buffers. */
function ring(pages: number): { tb: TraceBuffer; producer: Producer; mapping: Mapping } {
  // Reader sub-buffer + `pages` full ones + one spare: the producer never reaches the head.
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: pages + 3, overwrite: false, clock: 'counter' });
  return { tb, producer: tb.producer(0), mapping: tb.map(0) };
}

/** Runs the benchmark, prints the report and writes `benchmarks/results/get-reader.json`. */
export async function runGetReader(opts: GetReaderOptions = getReaderOptions()): Promise<GetReaderResult[]> {
  const env = environment();
  console.log(`\n=== get-reader: ${QUESTION}`);
  printEnvironment(env);
  const kernel = measureKernelGetReader(opts.pages, SMOKE ? 1 : 5);
  console.log(
    kernel.ok
      ? `kernel (this machine, now): full sub-buffer p50 ${kernel.full.p50} ns over ${kernel.full.calls} calls, empty p50 ${kernel.empty.p50} ns (${kernel.eventsPerPage} events per sub-buffer)`
      : `kernel not measured here: ${kernel.reason} (figures of kernel-semantics §9.2 shown instead)`,
  );

  const eventBytes = eventLength(PAYLOAD_LENGTH);
  const perPage = Math.floor((SUBBUF_SIZE - SUBBUF_HEADER_LENGTH) / eventBytes);
  console.log(
    `settings: ${PAYLOAD_LENGTH}-byte payloads = ${eventBytes}-byte events, ${perPage} per ${SUBBUF_SIZE}-byte sub-buffer ` +
      `(kernel measurement: ${KERNEL.eventsPerPage}); ${opts.pages} full sub-buffers per iteration, ${opts.timeMs} ms per task`,
  );
  if (perPage * eventBytes !== SUBBUF_SIZE - SUBBUF_HEADER_LENGTH) {
    console.log('note: the events do not fill the data area exactly; each sub-buffer ends with padding');
  }

  const payload = fillerBytes(PAYLOAD_LENGTH);
  const pages = opts.pages;
  const eventsPerRound = pages * perPage;
  const problems: string[] = [];

  // --- full sub-buffers -------------------------------------------------------------------------
  const full = ring(pages);
  let dropped = 0;
  const fillPages = (p: Producer): void => {
    for (let i = 0; i < eventsPerRound; i++) if (!p.write(payload)) dropped++;
  };

  // --- empty buffer: the consumer has caught up (everything written was handed out) -------------
  const empty = ring(4);
  for (let i = 0; i < 2 * perPage; i++) empty.producer.write(payload);
  for (let i = 0; i < 4; i++) empty.mapping.ioctl(TRACE_MMAP_IOCTL_GET_READER);
  const emptyRead = empty.mapping.meta.read;

  // --- user-space walk of one full sub-buffer (headers only), for the kernel's ≈ 0.5 µs ---------
  const walk = ring(pages);
  fillPages(walk.producer);
  // Ids of the filled ring sub-buffers: the head onward (1..pages on a fresh buffer).
  const walkIds: number[] = [];
  for (let id = 1; id <= pages; id++) walkIds.push(id);
  const reader = new SubbufReader();
  let walkMiscount = 0;

  const bench = new Bench({ name: 'get-reader', time: opts.timeMs, warmupTime: opts.warmupMs, retainSamples: true, throws: true });
  bench.add('GET_READER, full 4 KiB sub-buffer', () => {
    const t0 = performance.now();
    fillPages(full.producer);
    const before = full.mapping.meta.read;
    const t1 = performance.now();
    for (let k = 0; k < pages; k++) full.mapping.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const t2 = performance.now();
    const handedOut = full.mapping.meta.read - before;
    if (handedOut !== eventsPerRound) {
      problems.push(`full: ${pages} GET_READER calls handed out ${handedOut} events, expected ${eventsPerRound}`);
    }
    return { overriddenDuration: t2 - t1, overriddenIterationCost: performance.now() - t0 };
  });
  bench.add('GET_READER, empty buffer', () => {
    const t0 = performance.now();
    for (let k = 0; k < opts.emptyBatch; k++) empty.mapping.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const t1 = performance.now();
    return { overriddenDuration: t1 - t0 };
  });
  bench.add('walk one full sub-buffer (SubbufReader)', () => {
    const bytes = walk.mapping.bytes;
    const t0 = performance.now();
    let events = 0;
    for (const id of walkIds) {
      reader.load(bytes, walk.mapping.subbufOffset(id));
      while (reader.next()) events++;
    }
    const t1 = performance.now();
    if (events !== eventsPerRound) walkMiscount++;
    return { overriddenDuration: t1 - t0 };
  });

  await bench.run();
  /** ns per call of each task, from tinybench's samples (warmup excluded; a sample is one batch). */
  const perCallNs = (index: number, callsPerBatch: number): number[] => {
    const task = bench.tasks[index]!;
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`task did not complete: ${task.name} state=${r.state}`);
    return (r.latency.samples ?? []).map((ms) => (ms * 1e6) / callsPerBatch);
  };
  if (dropped !== 0) problems.push(`${dropped} writes were dropped while refilling (ring too small?)`);
  if (empty.mapping.meta.read !== emptyRead) problems.push('the empty-buffer GET_READER handed out events');
  if (walkMiscount !== 0) problems.push(`${walkMiscount} walks did not find ${perPage} events per sub-buffer`);

  const results = [
    summarize('GET_READER, full 4 KiB sub-buffer', perCallNs(0, pages), pages),
    summarize('GET_READER, empty buffer', perCallNs(1, opts.emptyBatch), opts.emptyBatch),
    summarize('walk one full sub-buffer (SubbufReader)', perCallNs(2, walkIds.length), walkIds.length),
  ];
  const [fullR, emptyR, walkR] = results as [GetReaderResult, GetReaderResult, GetReaderResult];

  console.log('\nns per call (the full-page figure is per GET_READER that swaps in one sub-buffer of 204 events):');
  printTable(
    ['operation', 'p50 ns', 'mean ns', 'p99 ns', 'min ns', 'calls', 'kernel p50'],
    [
      [fullR.name, fixed(fullR.p50Ns), fixed(fullR.meanNs), fixed(fullR.p99Ns), fixed(fullR.minNs), String(fullR.calls), kernel.ok ? `${kernel.full.p50} ns (this run)` : '6500–8400 ns (§9.2)'],
      [emptyR.name, fixed(emptyR.p50Ns), fixed(emptyR.meanNs), fixed(emptyR.p99Ns), fixed(emptyR.minNs), String(emptyR.calls), kernel.ok ? `${kernel.empty.p50} ns (this run, syscall incl.)` : '360–420 ns (§9.2)'],
      [walkR.name, fixed(walkR.p50Ns), fixed(walkR.meanNs), fixed(walkR.p99Ns), fixed(walkR.minNs), String(walkR.calls), '≈ 500 ns'],
    ],
  );

  const fullVsKernel = [KERNEL.fullPageNs[0] / fullR.p50Ns, KERNEL.fullPageNs[1] / fullR.p50Ns] as const;
  console.log(`\nfull sub-buffer: ${fixed(fullR.p50Ns)} ns per GET_READER (${fixed(fullR.p50Ns / perPage, 2)} ns per event handed out).`);
  let verdict: string;
  let ratio: number | null = null;
  if (kernel.ok) {
    ratio = fullR.p50Ns / kernel.full.p50;
    console.log(
      `same run, p50: tracebuf ${fixed(fullR.p50Ns)} ns ÷ kernel ${kernel.full.p50} ns = ${fixed(ratio, 3)}× (full sub-buffer); ` +
        `empty: ${fixed(emptyR.p50Ns)} ÷ ${kernel.empty.p50} ns = ${fixed(emptyR.p50Ns / kernel.empty.p50, 2)}× (the kernel's includes the system call).`,
    );
    verdict = `${SMOKE ? '[smoke, not meaningful] ' : ''}goal (full-page GET_READER ≤ ${GOAL_FULL_PAGE_RATIO}× the kernel's, same run): ${ratio <= GOAL_FULL_PAGE_RATIO ? 'MET' : 'NOT met'} — ${fixed(ratio, 3)}×`;
  } else {
    console.log(`the kernel's 6.5–8.4 µs of kernel-semantics §9.2 (not this run) is ${fixed(fullVsKernel[0], 1)}–${fixed(fullVsKernel[1], 1)}× that.`);
    verdict = `goal (full-page GET_READER ≤ ${GOAL_FULL_PAGE_RATIO}× the kernel's, same run): not measured — ${kernel.reason}`;
  }
  console.log(`full GET_READER + walk: ${fixed(fullR.p50Ns + walkR.p50Ns)} ns per sub-buffer.`);
  console.log(verdict);
  for (const p of problems.slice(0, 5)) console.log(`PROBLEM: ${p}`);

  const path = writeResult('get-reader', {
    benchmark: 'get-reader',
    question: QUESTION,
    environment: env,
    settings: { ...opts, subbufSize: SUBBUF_SIZE, payloadLength: PAYLOAD_LENGTH, eventLength: eventBytes, eventsPerPage: perPage },
    unit: 'ns per call',
    results,
    kernel: kernel.ok ? { measured: kernel } : { measured: null, reason: kernel.reason, reference: KERNEL },
    comparison: {
      fullPageNsPerEvent: fullR.p50Ns / perPage,
      tracebufOverKernelSameRun: ratio,
      fullPlusWalkNs: fullR.p50Ns + walkR.p50Ns,
    },
    goal: { fullPageRatio: GOAL_FULL_PAGE_RATIO, met: ratio !== null && ratio <= GOAL_FULL_PAGE_RATIO, verdict },
    problems,
  });
  console.log(`JSON: ${path}`);
  if (problems.length !== 0) process.exitCode = 1;
  return results;
}

if (isMain(import.meta.url)) await runGetReader();

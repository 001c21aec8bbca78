/**
 * The harness of the cross-thread stream benchmarks, `one-to-one` (1 producer worker) and
 * `n-to-one` (N producer workers): producers stream fixed numbers of events to one consumer, the
 * main thread, through tracebuf and three baselines, in the same run; every event is checked on
 * arrival (a run that loses, duplicates or reorders an event throws).
 *
 * Transports (see `stream-protocol.ts` for the producer side):
 *
 * - **tracebuf**: `TraceBuffer.create({ cpus: N, subbufSize: 4096, nrSubbufs: 256, overwrite:
 *   false, clock })`, one cpu slot per producer, `producer.write(payload)` per event. The
 *   consumer maps every cpu and polls them in turn: `mapping.ioctl(GET_READER)` until nothing new,
 *   walking each handed-out range with one `SubbufReader`.
 * - **ringbuf.js**: one SPSC `RingBuffer` of 1 MiB per producer; pushes of 64 records; the
 *   consumer pops up to ~64 KiB at a time into a private buffer and walks it.
 * - **postMessage ×1024**: a fresh 1024-record typed array per batch, transferred over a
 *   `MessageChannel` per producer; the consumer walks each batch in the port's `message` handler.
 * - **postMessage/event**: one record per message (structured clone).
 *
 * Consumers touch every event the same way: they read word 0 of the payload (the producer's
 * sequence number), check it is the next one of that producer, count it and add it to a checksum.
 * When every ring is empty, tracebuf's consumer blocks in `mapping.wait({ bufferPercent: 50 })`
 * (see {@link ConsumerWait}); ringbuf.js's, which has no wait, backs off like the producers: retry
 * at once 64 times, then sleep ~20 µs per round with `Atomics.wait`.
 *
 * @packageDocumentation
 */
import {
  SubbufReader,
  TRACE_MMAP_IOCTL_GET_READER,
  TraceBuffer,
} from '@tracebuf/core';
import type { Mapping } from '@tracebuf/core';
import { RingBuffer } from 'ringbuf.js';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import {
  SMOKE,
  envInt,
  environment,
  fixed,
  median,
  printEnvironment,
  printTable,
  writeResult,
} from './common.js';
import {
  CONTROL_WORDS,
  NR_SUBBUFS,
  POST_BATCH_EVENTS,
  RING_BYTES,
  RINGBUF_BATCH_EVENTS,
  START_INDEX,
  SUBBUF_SIZE,
  StreamVariant,
  type StreamVariantName,
  backoff,
  recordLength,
  type DoneMessage,
  type ProducerWorkerData,
  type RunSpec,
  type WorkerReply,
} from './stream-protocol.js';

/** Payload sizes in bytes. */
export const STREAM_PAYLOAD_LENGTHS = [16, 128] as const;

/** The two measurements: bare (no timestamps, tracebuf clock 'counter') and timestamped (`performance.now()` per event, clock 'mono'). */
export const StreamMode = {
  BARE: 'no timestamps / counter',
  TIMESTAMPED: 'performance.now() / mono',
} as const;
type StreamModeName = (typeof StreamMode)[keyof typeof StreamMode];
const MODES: readonly StreamModeName[] = [StreamMode.BARE, StreamMode.TIMESTAMPED];

/** Short ids of the variants, for `TRACEBUF_BENCH_STREAM_VARIANTS`. */
export const VARIANT_IDS: Readonly<Record<string, StreamVariantName>> = {
  tracebuf: StreamVariant.TRACEBUF,
  'tracebuf-many': StreamVariant.TRACEBUF_MANY,
  ringbuf: StreamVariant.RINGBUF,
  'post-batch': StreamVariant.POST_BATCH,
  'post-event': StreamVariant.POST_EVENT,
};

/** `TRACEBUF_BENCH_STREAM_VARIANTS` (comma-separated ids of {@link VARIANT_IDS}; default all), e.g. to profile one. */
export function streamVariants(): StreamVariantName[] {
  const raw = process.env['TRACEBUF_BENCH_STREAM_VARIANTS'];
  if (raw === undefined || raw === '') return Object.values(VARIANT_IDS);
  return raw.split(',').map((id) => {
    const v = VARIANT_IDS[id.trim()];
    if (v === undefined) throw new Error(`TRACEBUF_BENCH_STREAM_VARIANTS: unknown variant ${id} (known: ${Object.keys(VARIANT_IDS).join(', ')})`);
    return v;
  });
}

/** A run that took longer than this without the consumer making progress is reported as stuck. */
const STALL_MS = 60_000;

/** Settings of one stream benchmark script. */
export interface StreamOptions {
  /** Benchmark name (JSON file name). */
  readonly name: string;
  /** The question the script answers. */
  readonly question: string;
  /** Producer counts measured (one table each). */
  readonly producerCounts: readonly number[];
  /** Events per producer per run: tracebuf, ringbuf.js, batched postMessage. */
  readonly events: number;
  /** Events per producer per run: postMessage per event (≈ 100× slower). */
  readonly postEventEvents: number;
  /** Rounds over every task (spreads the variants over time). */
  readonly rounds: number;
  /** Runs per task and round. */
  readonly runsPerRound: number;
  /** How tracebuf's consumer waits when every cpu is empty. */
  readonly wait: ConsumerWait;
  /** The variants to run (all by default). */
  readonly variants: readonly StreamVariantName[];
}

/**
 * How tracebuf's consumer waits when a poll of every cpu found nothing: `wait` (default, with
 * bufferPercent 50) — `mapping.wait({ bufferPercent, timeoutMs: 1 })` on one cpu at a time, the
 * consumer loop the kernel interface is made for (the producer wakes it at the sub-buffer crossing
 * that reaches the watermark, or at the next commit for 0); `poll` — the backoff the ringbuf.js
 * consumer and the producers use (spin, then ~20 µs `Atomics.wait` naps). On this machine
 * `wait:50` gave tracebuf 5–20 % more events/s than `poll` and `wait:0` in one-to-one, and no
 * clear difference in n-to-one (see the README).
 */
export type ConsumerWait =
  | { readonly kind: 'poll' }
  | { readonly kind: 'nap'; readonly ms: number }
  | { readonly kind: 'wait'; readonly bufferPercent: number; readonly timeoutMs: number };

/** `TRACEBUF_BENCH_STREAM_WAIT`: `wait:<bufferPercent>` (default `wait:50`; e.g. `wait:0`) or `poll`. */
export function consumerWait(): ConsumerWait {
  const raw = process.env['TRACEBUF_BENCH_STREAM_WAIT'] ?? 'wait:50';
  if (raw === 'poll') return { kind: 'poll' };
  const nap = /^nap:(\d+(?:\.\d+)?)$/.exec(raw);
  if (nap !== null) return { kind: 'nap', ms: Number(nap[1]) };
  const match = /^wait:(\d{1,3})$/.exec(raw);
  const percent = match === null ? Number.NaN : Number(match[1]);
  if (!(percent >= 0 && percent <= 100)) throw new Error(`TRACEBUF_BENCH_STREAM_WAIT must be poll or wait:<0..100>: TRACEBUF_BENCH_STREAM_WAIT=${raw}`);
  return { kind: 'wait', bufferPercent: percent, timeoutMs: 1 };
}

function describeWait(w: ConsumerWait): string {
  switch (w.kind) {
    case 'poll':
      return 'poll with backoff';
    case 'nap':
      return `Atomics.wait nap of ${w.ms} ms`;
    case 'wait':
      return `mapping.wait({ bufferPercent: ${w.bufferPercent}, timeoutMs: ${w.timeoutMs} })`;
  }
}

/** A script's default counts (the environment overrides them; smoke mode shrinks them). */
export interface StreamDefaults {
  readonly events: number;
  readonly postEventEvents: number;
  readonly rounds: number;
  readonly runsPerRound: number;
}

/** Settings from the environment, else `defaults` (tiny in smoke mode). */
export function streamOptions(name: string, question: string, producerCounts: readonly number[], defaults: StreamDefaults): StreamOptions {
  return {
    name,
    question,
    producerCounts,
    events: envInt('TRACEBUF_BENCH_STREAM_EVENTS', SMOKE ? 1 << 14 : defaults.events),
    postEventEvents: envInt('TRACEBUF_BENCH_STREAM_POST_EVENTS', SMOKE ? 1 << 11 : defaults.postEventEvents),
    rounds: envInt('TRACEBUF_BENCH_STREAM_ROUNDS', SMOKE ? 1 : defaults.rounds),
    runsPerRound: envInt('TRACEBUF_BENCH_STREAM_RUNS', SMOKE ? 1 : defaults.runsPerRound),
    wait: consumerWait(),
    variants: streamVariants(),
  };
}

/** What the consumer saw of one producer's stream. */
class Tally {
  next = 0;
  count = 0;
  sum = 0;
  /** Events whose sequence number was not the next one (lost, duplicated, reordered or corrupt). */
  outOfOrder = 0;

  /** One event with sequence number `seq`. */
  add(seq: number): void {
    if (seq !== this.next) this.outOfOrder++;
    this.next = seq + 1;
    this.sum += seq;
    this.count++;
  }

  /** Problems against `events` events 0..events-1 in order (empty when the stream was exact). */
  problems(producer: number, events: number): string[] {
    const out: string[] = [];
    if (this.count !== events) out.push(`producer ${producer}: received ${this.count} events, sent ${events}`);
    const sum = (events * (events - 1)) / 2;
    if (this.sum !== sum) out.push(`producer ${producer}: checksum ${this.sum}, expected ${sum}`);
    if (this.outOfOrder !== 0) out.push(`producer ${producer}: ${this.outOfOrder} events out of sequence`);
    return out;
  }
}

/** Replies of one worker, in order, awaitable one at a time. */
class Mailbox {
  readonly #queue: WorkerReply[] = [];
  readonly #waiters: ((m: WorkerReply) => void)[] = [];
  #failure: Error | undefined;
  readonly #rejecters: ((e: Error) => void)[] = [];

  constructor(worker: Worker) {
    worker.on('message', (m: WorkerReply) => {
      const w = this.#waiters.shift();
      this.#rejecters.shift();
      if (w !== undefined) w(m);
      else this.#queue.push(m);
    });
    const fail = (err: Error): void => {
      this.#failure = err;
      for (const r of this.#rejecters.splice(0)) r(err);
      this.#waiters.length = 0;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`producer worker exited: code=${code}`)));
  }

  /** The next reply; rejects when the worker failed or exited. */
  next(): Promise<WorkerReply> {
    const m = this.#queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiters.push(resolve);
      this.#rejecters.push(reject);
    });
  }
}

function expectReply<K extends WorkerReply['kind']>(m: WorkerReply, kind: K): Extract<WorkerReply, { kind: K }> {
  if (m.kind === 'error') throw new Error(`producer worker failed: ${m.message}`);
  if (m.kind !== kind) throw new Error(`producer worker replied ${m.kind}, expected ${kind}`);
  return m as Extract<WorkerReply, { kind: K }>;
}

/** A polling consumer (tracebuf, ringbuf.js): `poll()` takes what is there and returns how many events. */
interface PollingConsumer {
  poll(): number;
  /** Called when a poll found every ring empty; `round` counts such polls in a row. */
  idle(round: number): void;
  close(): void;
  /** Extra checks after the run (empty when fine). */
  problems(retries: readonly number[]): string[];
}

const napWord = new Int32Array(new SharedArrayBuffer(4));

/** tracebuf's consumer: every cpu mapped, GET_READER until nothing new, one SubbufReader walk per range. */
class TracebufConsumer implements PollingConsumer {
  readonly #tb: TraceBuffer;
  readonly #mappings: Mapping[] = [];
  readonly #words: Uint32Array[] = [];
  readonly #lastId: number[] = [];
  readonly #lastRead: number[] = [];
  readonly #tallies: readonly Tally[];
  readonly #events: number;
  readonly #reader = new SubbufReader();
  #missed = 0;
  #corrupt = 0;

  readonly #wait: ConsumerWait;
  #nextWait = 0;

  constructor(tb: TraceBuffer, tallies: readonly Tally[], events: number, wait: ConsumerWait) {
    this.#tb = tb;
    this.#wait = wait;
    this.#tallies = tallies;
    this.#events = events;
    for (let cpu = 0; cpu < tallies.length; cpu++) {
      const m = tb.map(cpu);
      this.#mappings.push(m);
      this.#words.push(new Uint32Array(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength >> 2));
      this.#lastId.push(m.readerId);
      this.#lastRead.push(m.readerRead);
    }
  }

  poll(): number {
    let got = 0;
    const r = this.#reader;
    for (let cpu = 0; cpu < this.#mappings.length; cpu++) {
      const m = this.#mappings[cpu]!;
      const words = this.#words[cpu]!;
      const tally = this.#tallies[cpu]!;
      for (;;) {
        m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
        const id = m.readerId;
        const read = m.readerRead;
        const lastId = this.#lastId[cpu]!;
        const lastRead = this.#lastRead[cpu]!;
        if (id === lastId && read === lastRead) break;
        const from = id === lastId && read >= lastRead ? lastRead : 0;
        this.#lastId[cpu] = id;
        this.#lastRead[cpu] = read;
        r.load(m.bytes, m.subbufOffset(id), from, read);
        if (from === 0 && r.missedEvents) this.#missed++;
        while (r.next()) {
          tally.add(words[r.payloadOffset >> 2]!);
          got++;
        }
        if (r.corrupt) this.#corrupt++;
      }
    }
    return got;
  }

  idle(round: number): void {
    if (this.#wait.kind === 'poll') {
      backoff(round);
      return;
    }
    if (this.#wait.kind === 'nap') {
      Atomics.wait(napWord, 0, 0, this.#wait.ms);
      return;
    }
    // Block in the kernel-style wait on one cpu at a time (a short timeout lets the others be polled).
    const m = this.#mappings[this.#nextWait]!;
    this.#nextWait = (this.#nextWait + 1) % this.#mappings.length;
    m.wait({ bufferPercent: this.#wait.bufferPercent, timeoutMs: this.#wait.timeoutMs });
  }

  problems(retries: readonly number[]): string[] {
    const out: string[] = [];
    if (this.#missed !== 0) out.push(`tracebuf: ${this.#missed} sub-buffers flagged missed events`);
    if (this.#corrupt !== 0) out.push(`tracebuf: ${this.#corrupt} sub-buffer walks met a corrupt event`);
    for (let cpu = 0; cpu < this.#mappings.length; cpu++) {
      const s = this.#tb.stats(cpu);
      if (s.committed !== this.#events) out.push(`tracebuf cpu ${cpu}: stats.committed ${s.committed}, expected ${this.#events}`);
      if (s.readEvents !== this.#events) out.push(`tracebuf cpu ${cpu}: stats.readEvents ${s.readEvents}, expected ${this.#events}`);
      if (s.entries !== 0) out.push(`tracebuf cpu ${cpu}: stats.entries ${s.entries} left unread`);
      if (s.overrun !== 0) out.push(`tracebuf cpu ${cpu}: stats.overrun ${s.overrun}`);
      // Every refused write is one dropped event in producer/consumer mode (then retried).
      if (s.droppedEvents !== retries[cpu]) {
        out.push(`tracebuf cpu ${cpu}: stats.droppedEvents ${s.droppedEvents}, the producer saw ${retries[cpu]} refused writes`);
      }
    }
    return out;
  }

  close(): void {
    for (const m of this.#mappings) m.unmap();
  }
}

/** ringbuf.js's consumer: pop up to ~64 KiB of whole records from each ring into a private buffer, walk them. */
class RingbufConsumer implements PollingConsumer {
  readonly #rings: RingBuffer[];
  readonly #tallies: readonly Tally[];
  readonly #rec: number;
  readonly #local: Uint8Array;
  readonly #words: Uint32Array;
  readonly #popLength: number;

  constructor(rings: readonly SharedArrayBuffer[], tallies: readonly Tally[], rec: number) {
    this.#rings = rings.map((sab) => new RingBuffer(sab, Uint8Array));
    this.#tallies = tallies;
    this.#rec = rec;
    // Producers push whole records, so popping a multiple of the record length never splits one.
    this.#popLength = Math.floor(65536 / rec) * rec;
    this.#local = new Uint8Array(this.#popLength);
    this.#words = new Uint32Array(this.#local.buffer);
  }

  poll(): number {
    let got = 0;
    const rec = this.#rec;
    const words = this.#words;
    for (let i = 0; i < this.#rings.length; i++) {
      const rb = this.#rings[i]!;
      const tally = this.#tallies[i]!;
      for (;;) {
        const n = rb.pop(this.#local, this.#popLength);
        if (n === 0) break;
        for (let at = 0; at < n; at += rec) tally.add(words[at >> 2]!);
        got += n / rec;
        if (n < this.#popLength) break;
      }
    }
    return got;
  }

  idle(round: number): void {
    backoff(round);
  }

  problems(): string[] {
    return [];
  }

  close(): void {}
}

/** One measured run of one variant. */
export interface RunResult {
  /** From the start signal to the consumer's receipt of the last event, ms. */
  readonly ms: number;
  readonly eventsPerSecond: number;
  /** Backoff rounds of all producers (ring full / no credits). */
  readonly producerRetries: number;
  /** Empty polls of the consumer (polling variants). */
  readonly consumerIdlePolls: number;
  /** Slowest producer's own time to write its events, ms. */
  readonly producerMs: number;
}

/** The figures of one (producers, payload, mode, variant). */
export interface StreamResult {
  readonly producers: number;
  readonly payload: number;
  readonly mode: StreamModeName;
  readonly variant: StreamVariantName;
  readonly eventsPerRun: number;
  /** Median events per second over the runs. */
  readonly p50EventsPerSecond: number;
  readonly minEventsPerSecond: number;
  readonly maxEventsPerSecond: number;
  readonly p50ProducerRetries: number;
  readonly p50ConsumerIdlePolls: number;
  readonly runs: readonly RunResult[];
}

/** tracebuf ÷ baseline throughput (above 1: tracebuf is ahead). */
export interface StreamRatio {
  /** The tracebuf variant divided (one write per event, or writeMany). */
  readonly variant: StreamVariantName;
  readonly producers: number;
  readonly payload: number;
  readonly mode: StreamModeName;
  readonly baseline: StreamVariantName;
  readonly ratio: number;
}

/** The producer workers, reused for every run (one per producer). */
class ProducerPool {
  readonly workers: Worker[] = [];
  readonly mailboxes: Mailbox[] = [];
  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  #generation = 0;

  constructor(size: number) {
    const data: ProducerWorkerData = { control: this.control.buffer as SharedArrayBuffer };
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./workers/stream-producer.js', import.meta.url), { workerData: data });
      this.workers.push(w);
      this.mailboxes.push(new Mailbox(w));
    }
  }

  nextGeneration(): number {
    return ++this.#generation;
  }

  start(generation: number): void {
    Atomics.store(this.control, START_INDEX, generation);
    Atomics.notify(this.control, START_INDEX);
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

interface RunConfig {
  readonly producers: number;
  readonly payload: number;
  readonly mode: StreamModeName;
  readonly variant: StreamVariantName;
  readonly events: number;
  readonly wait: ConsumerWait;
}

/** Runs one variant once: set up, start every producer, consume and check every event. */
async function runOnce(pool: ProducerPool, cfg: RunConfig): Promise<RunResult> {
  const n = cfg.producers;
  const timestamps = cfg.mode === StreamMode.TIMESTAMPED;
  const rec = recordLength(cfg.payload, timestamps);
  const generation = pool.nextGeneration();
  const tallies = Array.from({ length: n }, () => new Tally());
  const base = { kind: 'run', variant: cfg.variant, payloadLength: cfg.payload, timestamps, events: cfg.events, generation } as const;

  let polling: PollingConsumer | undefined;
  let ports: MessagePort[] = [];
  let credits: Int32Array | undefined;
  const specs: { spec: RunSpec; transfer: MessagePort[] }[] = [];
  switch (cfg.variant) {
    case StreamVariant.TRACEBUF:
    case StreamVariant.TRACEBUF_MANY: {
      const tb = TraceBuffer.create({
        cpus: n,
        subbufSize: SUBBUF_SIZE,
        nrSubbufs: NR_SUBBUFS,
        overwrite: false,
        clock: timestamps ? 'mono' : 'counter',
      });
      polling = new TracebufConsumer(tb, tallies, cfg.events, cfg.wait);
      for (let i = 0; i < n; i++) specs.push({ spec: { ...base, producer: i, handle: tb.handle }, transfer: [] });
      break;
    }
    case StreamVariant.RINGBUF: {
      const rings = Array.from({ length: n }, () => RingBuffer.getStorageForCapacity(RING_BYTES, Uint8Array));
      polling = new RingbufConsumer(rings, tallies, rec);
      for (let i = 0; i < n; i++) specs.push({ spec: { ...base, producer: i, ring: rings[i]! }, transfer: [] });
      break;
    }
    case StreamVariant.POST_BATCH:
    case StreamVariant.POST_EVENT: {
      const sab = new SharedArrayBuffer(4 * n);
      credits = new Int32Array(sab);
      const window = Math.max(Math.floor(RING_BYTES / rec), 2 * POST_BATCH_EVENTS);
      for (let i = 0; i < n; i++) {
        const channel = new MessageChannel();
        ports.push(channel.port1);
        specs.push({ spec: { ...base, producer: i, port: channel.port2, credits: sab, window }, transfer: [channel.port2] });
      }
      break;
    }
  }

  // Every producer set up and waiting on the start word.
  for (let i = 0; i < n; i++) pool.workers[i]!.postMessage(specs[i]!.spec, specs[i]!.transfer);
  for (let i = 0; i < n; i++) expectReply(await pool.mailboxes[i]!.next(), 'ready');

  const target = n * cfg.events;
  let received = 0;
  let idlePolls = 0;
  let t0 = 0;
  let t1 = 0;
  if (polling !== undefined) {
    t0 = performance.now();
    pool.start(generation);
    let idle = 0;
    let lastProgress = t0;
    while (received < target) {
      const got = polling.poll();
      if (got !== 0) {
        received += got;
        idle = 0;
        continue;
      }
      idlePolls++;
      if (idle >= 64) {
        const now = performance.now();
        if (idle === 64) lastProgress = now;
        else if (now - lastProgress > STALL_MS) throw new Error(`consumer stalled: ${received} of ${target} events after ${fixed(now - t0, 0)} ms (${cfg.variant})`);
      }
      polling.idle(idle++);
    }
    t1 = performance.now();
  } else {
    const cr = credits!;
    const perEvent = cfg.variant === StreamVariant.POST_EVENT;
    const done = new Promise<void>((resolve, reject) => {
      const stall = setTimeout(() => reject(new Error(`consumer stalled: ${received} of ${target} events (${cfg.variant})`)), STALL_MS);
      ports.forEach((port, i) => {
        const tally = tallies[i]!;
        const finish = (): void => {
          t1 = performance.now();
          clearTimeout(stall);
          resolve();
        };
        if (perEvent) {
          port.on('message', (data: Uint8Array) => {
            tally.add((data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0);
            Atomics.store(cr, i, tally.count);
            if (++received === target) finish();
          });
        } else {
          port.on('message', (data: Uint8Array) => {
            const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
            const length = data.byteLength;
            for (let at = 0; at < length; at += rec) tally.add(words[at >> 2]!);
            Atomics.store(cr, i, tally.count);
            received += length / rec;
            if (received === target) finish();
          });
        }
      });
    });
    t0 = performance.now();
    pool.start(generation);
    await done;
  }

  const dones: DoneMessage[] = [];
  for (let i = 0; i < n; i++) dones.push(expectReply(await pool.mailboxes[i]!.next(), 'done'));
  for (const p of ports) p.close();
  ports = [];
  const retries = dones.map((d) => d.retries);
  const problems = tallies.flatMap((t, i) => t.problems(i, cfg.events));
  if (polling !== undefined) {
    problems.push(...polling.problems(retries));
    polling.close();
  }
  if (problems.length !== 0) {
    throw new Error(`INVALID run (${cfg.producers} producers, ${cfg.payload} B, ${cfg.mode}, ${cfg.variant}):\n  ${problems.join('\n  ')}`);
  }
  const ms = t1 - t0;
  return {
    ms,
    eventsPerSecond: (target / ms) * 1000,
    producerRetries: retries.reduce((a, b) => a + b, 0),
    consumerIdlePolls: idlePolls,
    producerMs: Math.max(...dones.map((d) => d.producerMs)),
  };
}

function taskName(producers: number, payload: number, mode: StreamModeName, variant: StreamVariantName): string {
  return `${producers}p ${payload}B ${mode} ${variant}`;
}

const meps = (eps: number): string => fixed(eps / 1e6, 2);

/** Runs a stream benchmark, prints the report and writes `benchmarks/results/<name>.json`. */
export async function runStream(opts: StreamOptions): Promise<{ results: StreamResult[]; ratios: StreamRatio[] }> {
  const env = environment();
  console.log(`\n=== ${opts.name}: ${opts.question}`);
  printEnvironment(env);
  const maxProducers = Math.max(...opts.producerCounts);
  if (maxProducers + 1 > env.logicalCpus) {
    console.log(
      `NOTE: ${maxProducers} producer threads + 1 consumer on ${env.logicalCpus} logical cpus: threads share cores, ` +
        'spinning sides back off by sleeping (Atomics.wait) so the others can run',
    );
  }
  console.log(
    `settings: ${opts.events} events per producer per run (${opts.postEventEvents} for postMessage/event), ` +
      `${opts.rounds} round(s) × ${opts.runsPerRound} run(s) per variant; ring ${RING_BYTES} B per producer ` +
      `(tracebuf: ${NR_SUBBUFS} × ${SUBBUF_SIZE} B sub-buffers, overwrite false); postMessage window ${RING_BYTES} B of records; ` +
      `tracebuf consumer when empty: ${describeWait(opts.wait)}`,
  );

  const VARIANTS = opts.variants;
  const OURS: StreamVariantName[] = VARIANTS.filter((v) => v === StreamVariant.TRACEBUF || v === StreamVariant.TRACEBUF_MANY);
  const BASELINES = OURS.length === 0 ? [] : VARIANTS.filter((v) => !OURS.includes(v));
  const pool = new ProducerPool(maxProducers);
  const runs = new Map<string, RunResult[]>();
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const bench = new Bench({
        name: `${opts.name} round ${round + 1}`,
        iterations: opts.runsPerRound,
        time: 0,
        warmup: round === 0,
        warmupIterations: 1,
        warmupTime: 0,
        throws: true,
      });
      for (const producers of opts.producerCounts) {
        for (const payload of STREAM_PAYLOAD_LENGTHS) {
          for (const mode of MODES) {
            for (const variant of VARIANTS) {
              const name = taskName(producers, payload, mode, variant);
              const events = variant === StreamVariant.POST_EVENT ? opts.postEventEvents : opts.events;
              const cfg: RunConfig = { producers, payload, mode, variant, events, wait: opts.wait };
              let warm = round === 0;
              bench.add(name, async () => {
                const r = await runOnce(pool, cfg);
                // tinybench's warm-up iteration is not a sample.
                if (!warm) {
                  const list = runs.get(name) ?? [];
                  list.push(r);
                  runs.set(name, list);
                }
                return { overriddenDuration: r.ms };
              }, {
                beforeAll(phase) {
                  warm = phase === 'warmup';
                },
              });
            }
          }
        }
      }
      await bench.run();
      for (const task of bench.tasks) {
        if (task.result.state !== 'completed') throw new Error(`task did not complete: ${task.name} state=${task.result.state}`);
      }
      if (opts.rounds > 1) console.log(`round ${round + 1}/${opts.rounds} done`);
    }
  } finally {
    await pool.terminate();
  }

  const results: StreamResult[] = [];
  for (const producers of opts.producerCounts) {
    for (const payload of STREAM_PAYLOAD_LENGTHS) {
      for (const mode of MODES) {
        for (const variant of VARIANTS) {
          const list = runs.get(taskName(producers, payload, mode, variant)) ?? [];
          const eps = list.map((r) => r.eventsPerSecond);
          results.push({
            producers,
            payload,
            mode,
            variant,
            eventsPerRun: producers * (variant === StreamVariant.POST_EVENT ? opts.postEventEvents : opts.events),
            p50EventsPerSecond: median(eps),
            minEventsPerSecond: Math.min(...eps),
            maxEventsPerSecond: Math.max(...eps),
            p50ProducerRetries: median(list.map((r) => r.producerRetries)),
            p50ConsumerIdlePolls: median(list.map((r) => r.consumerIdlePolls)),
            runs: list,
          });
        }
      }
    }
  }
  const find = (p: number, payload: number, mode: StreamModeName, v: StreamVariantName): StreamResult =>
    results.find((r) => r.producers === p && r.payload === payload && r.mode === mode && r.variant === v)!;
  const ratios: StreamRatio[] = [];
  for (const variant of BASELINES.length === 0 ? [] : OURS) {
    for (const producers of opts.producerCounts) {
      for (const payload of STREAM_PAYLOAD_LENGTHS) {
        for (const mode of MODES) {
          const tbEps = find(producers, payload, mode, variant).p50EventsPerSecond;
          for (const baseline of BASELINES) {
            ratios.push({ variant, producers, payload, mode, baseline, ratio: tbEps / find(producers, payload, mode, baseline).p50EventsPerSecond });
          }
        }
      }
    }
  }

  for (const producers of opts.producerCounts) {
    console.log(`\n${producers} producer${producers === 1 ? '' : 's'} → 1 consumer (main thread): M events/s, median of ${opts.rounds * opts.runsPerRound} runs (every run checked: count, checksum, order)`);
    printTable(
      ['payload', 'mode', 'variant', 'M ev/s p50', 'min', 'max', 'events/run', 'producer backoffs p50', 'consumer idle polls p50'],
      results
        .filter((r) => r.producers === producers)
        .map((r) => [
          `${r.payload} B`,
          r.mode,
          r.variant,
          meps(r.p50EventsPerSecond),
          meps(r.minEventsPerSecond),
          meps(r.maxEventsPerSecond),
          String(r.eventsPerRun),
          String(r.p50ProducerRetries),
          OURS.includes(r.variant) || r.variant === StreamVariant.RINGBUF ? String(r.p50ConsumerIdlePolls) : '-',
        ]),
    );
    if (BASELINES.length === 0) continue;
    console.log(`\n${producers} producer${producers === 1 ? '' : 's'}: tracebuf ÷ baseline, events/s (above 1×: tracebuf ahead)`);
    printTable(
      ['payload', 'mode', 'tracebuf', ...BASELINES.map((b) => `÷ ${b}`)],
      OURS.flatMap((variant) =>
        STREAM_PAYLOAD_LENGTHS.flatMap((payload) =>
          MODES.map((mode) => [
            `${payload} B`,
            mode,
            variant,
            ...BASELINES.map(
              (b) => `${fixed(ratios.find((x) => x.variant === variant && x.producers === producers && x.payload === payload && x.mode === mode && x.baseline === b)!.ratio, 2)}×`,
            ),
          ]),
        ),
      ),
    );
  }

  const configs = opts.producerCounts.length * STREAM_PAYLOAD_LENGTHS.length * MODES.length;
  // Per tracebuf variant: in how many configurations it is ahead of every baseline, and its worst ratio.
  const standing = (variant: StreamVariantName): { ahead: number; worst: StreamRatio | undefined } => {
    const mine = ratios.filter((x) => x.variant === variant);
    let ahead = 0;
    for (const producers of opts.producerCounts) {
      for (const payload of STREAM_PAYLOAD_LENGTHS) {
        for (const mode of MODES) {
          const here = mine.filter((x) => x.producers === producers && x.payload === payload && x.mode === mode);
          if (here.length > 0 && here.every((x) => x.ratio > 1)) ahead++;
        }
      }
    }
    const worst = mine.reduce<StreamRatio | undefined>((w, x) => (w === undefined || x.ratio < w.ratio ? x : w), undefined);
    return { ahead, worst };
  };
  const describe = (variant: StreamVariantName): string => {
    const { ahead, worst } = standing(variant);
    return worst === undefined
      ? `${variant}: not measured`
      : `${variant}: ahead of every baseline in ${ahead} of ${configs} configurations; worst ${fixed(worst.ratio, 2)}× of ${worst.baseline} (${worst.producers} producer(s), ${worst.payload} B, ${worst.mode})`;
  };
  // Issue 8: one write per event ahead of every baseline; or, failing that, the batched write
  // ahead of every baseline and one write per event at ≥ 0.8× of them.
  const single = standing(StreamVariant.TRACEBUF);
  const many = standing(StreamVariant.TRACEBUF_MANY);
  const met =
    single.worst !== undefined &&
    (single.ahead === configs || (many.worst !== undefined && many.ahead === configs && single.worst.ratio >= 0.8));
  const verdict =
    (SMOKE ? '[smoke, not meaningful] ' : '') +
    (single.worst === undefined && many.worst === undefined
      ? `no comparison: variants limited to ${VARIANTS.join(', ')}`
      : `goal ${met ? 'MET' : 'NOT met'} (one write per event ahead of every baseline, or writeMany ahead and one write per event ≥ 0.8×) — ${OURS.map(describe).join('; ')}`);
  console.log(`\n${verdict}`);

  const path = writeResult(opts.name, {
    benchmark: opts.name,
    question: opts.question,
    environment: env,
    settings: {
      ...opts,
      payloadLengths: STREAM_PAYLOAD_LENGTHS,
      ringBytes: RING_BYTES,
      subbufSize: SUBBUF_SIZE,
      nrSubbufs: NR_SUBBUFS,
      ringbufBatchEvents: RINGBUF_BATCH_EVENTS,
      postBatchEvents: POST_BATCH_EVENTS,
    },
    unit: 'events per second',
    results,
    ratios,
    goal: { writePerEventAheadOfAll: single.ahead, writeManyAheadOfAll: many.ahead, configurations: configs, met, verdict },
  });
  console.log(`JSON: ${path}`);
  return { results, ratios };
}

/**
 * Seeded fuzzing of the decoders (issue 9). Inputs: random bytes, and mutations of a valid
 * trace.dat (`toTraceDat(captureBuffer(tb))`: 2 CPUs, several sub-buffers each, long events, a
 * stored lost count) and of a valid raw stream (`writeRaw`): bit flips, byte overwrites with
 * 0x00 / 0xff / random, truncations, and extreme u32s written where the structure is — commit
 * words, long events' length words, event header words, `__data_loc` words, `common_type`s, the
 * trace.dat metadata and its CPU table. Each input goes through `readTraceDat` + `toText` +
 * `toChromeTrace` (trace.dat) or `readRaw` + `walkCapture` + `decodeCapture` (raw), which must
 * either succeed — with every record inside its bytes, finite timestamps and no undefined or NaN
 * field — or throw a `TraceBufferError` with code EINVAL whose message ends in `offset=N`, N
 * inside the input. Anything else (RangeError, TypeError, another code, a hang) fails, naming
 * the seed, the iteration and the mutation as a byte recipe.
 *
 * The decoders run in a worker thread the test waits for with a deadline, so a decoder that
 * loops fails the test instead of hanging the run.
 *
 * `TRACEBUF_FUZZ_SEED` replays a run (the seed is in the test names), `TRACEBUF_FUZZ_ITERATIONS`
 * sets the inputs per kind (default 400). Every iteration has its own PRNG stream
 * (seed, kind, iteration), so a failure's recipe is enough to rebuild its input.
 *
 * Then each damage the issue names, on its own: a commit length beyond the sub-buffer, a long
 * event's length word past the committed data, truncated files (trace.dat cut in its metadata
 * and in its CPU data, a raw stream that is not whole sub-buffers) and an unknown event id —
 * each `EINVAL` naming the exact offset (and a commit of 0 or 3, which is an empty sub-buffer,
 * not an error).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { type EventFormat, FieldKind, SubbufReader, TraceBuffer, TraceBufferError, layout, parseEventFormat } from '@tracebuf/core';
import { type Capture, type CaptureRecord, captureBuffer, decodeCapture, readRaw, readTraceDat, toChromeTrace, toText, toTraceDat, walkCapture, writeRaw } from '@tracebuf/formats';
import { afterAll, describe, expect, it } from 'vitest';
import { prng } from '../../core/test/support/kernel-differential.js';

const { SUBBUF_COMMIT_OFFSET, SUBBUF_DATA_OFFSET, COMMIT_LENGTH_MASK, COMMON_TYPE_OFFSET } = layout;

const seedEnv = process.env['TRACEBUF_FUZZ_SEED'];
const SEED = seedEnv !== undefined && seedEnv !== '' ? Number(seedEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const ITERATIONS = Number(process.env['TRACEBUF_FUZZ_ITERATIONS'] || 400);
if (seedEnv !== undefined && seedEnv !== '' && !Number.isSafeInteger(Number(seedEnv))) throw new Error(`TRACEBUF_FUZZ_SEED must be an integer: ${seedEnv}`);
if (!Number.isSafeInteger(ITERATIONS) || ITERATIONS < 1) throw new Error(`TRACEBUF_FUZZ_ITERATIONS must be a positive integer: ${process.env['TRACEBUF_FUZZ_ITERATIONS']}`);
/** A decode that takes longer than this is a hang (a valid input decodes in a few ms). */
const HANG_MS = 5000;
const SUBBUF_SIZE = 4096;
/** Values written over length-like words: zero, below a header, the sign bit, the sub-buffer's size and one past. */
const EXTREMES = [0, 3, 4, 8, 0x7fffffff, 0x80000000, 0xffffffff, SUBBUF_SIZE - SUBBUF_DATA_OFFSET, SUBBUF_SIZE - SUBBUF_DATA_OFFSET + 1, SUBBUF_SIZE, SUBBUF_SIZE + 1] as const;

// ---------------------------------------------------------------------------------------------
// Valid inputs
// ---------------------------------------------------------------------------------------------

/**
 * A buffer of 2 CPUs with 6 sub-buffers each, overfilled (so the oldest sub-buffers were
 * overwritten and the first one read carries a stored lost count), with events of every field
 * kind, short and long (> 112-byte payloads), some strings in non-ASCII UTF-8.
 */
function filledBuffer(): TraceBuffer {
  const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 6, clock: 'counter' });
  const Sample = tb.defineEvent('fuzz_sample', { seq: 'u32', big: 'u64', neg: 's32', flag: 'bool', tag: 'char[8]', msg: 'string', blob: 'bytes' });
  const Tick = tb.defineEvent('fuzz_tick', { seq: 'u16' });
  const producers = [tb.producer(0), tb.producer(1)];
  for (let i = 0; i < 500; i++) {
    const p = producers[i & 1]!;
    if (i % 5 === 4) Tick.write(p, i);
    else Sample.write(p, i, 2n ** 63n + BigInt(i), -i, (i & 2) !== 0, `t${i}`, `${i % 3 === 0 ? 'é✓' : 'm'}${'x'.repeat((i * 7) % 300)}`, Uint8Array.from({ length: (i * 13) % 200 }, (_, j) => (i + j) & 255));
  }
  return tb;
}

const captured = captureBuffer(filledBuffer());
/** The trace.dat (plain Uint8Array: a Buffer's slice() would share its memory). */
const validDat = new Uint8Array(toTraceDat(captured));
const datCapture = readTraceDat(validDat);

const scratch = mkdtempSync(join(tmpdir(), 'tracebuf-fuzz-'));
const twin = filledBuffer();
writeRaw(twin, 0, join(scratch, 'cpu0.raw'));
/** CPU 0's raw stream as writeRaw writes it. */
const validRaw = new Uint8Array(readFileSync(join(scratch, 'cpu0.raw')));
rmSync(scratch, { recursive: true, force: true });
const rawFormats = twin.events.formats();
const rawOptions = { subbufSize: SUBBUF_SIZE, formats: rawFormats, clock: 'counter' } as const;

/** Where one data event sits (file offsets). */
interface EventMark {
  readonly cpu: number;
  /** Sub-buffer index in its CPU's data. */
  readonly subbuf: number;
  /** Index among the data events of its sub-buffer. */
  readonly index: number;
  readonly typeLen: number;
  /** The header word. */
  readonly header: number;
  /** The payload (its first bytes are `common_type`). */
  readonly payload: number;
}

/** File offsets of the words a mutation aims at. */
interface Landmarks {
  readonly commitWords: number[];
  readonly events: EventMark[];
  /** `array[0]` of the long (type_len 0) events. */
  readonly lengthWords: number[];
  readonly dataLocWords: number[];
  /** End of the metadata (trace.dat: where the first CPU's data starts; raw: 0). */
  readonly metadataEnd: number;
  /** The trace.dat's CPU table entries (u64 offset, u64 size), none for raw. */
  readonly cpuTable: number[];
  /** The digits of every `offset:N` and `size:N` in the trace.dat's event formats: [start, end). */
  readonly formatNumbers: [number, number][];
}

/** Walks a valid capture's sub-buffers and notes where every word of interest is in the file. */
function landmarks(capture: Capture, file: Uint8Array): Landmarks {
  const byId = new Map(capture.formats.map((f) => [f.id, f]));
  const marks: Landmarks = { commitWords: [], events: [], lengthWords: [], dataLocWords: [], metadataEnd: 0, cpuTable: [], formatNumbers: [] };
  const r = new SubbufReader();
  for (const [cpu, data] of capture.cpus.entries()) {
    for (let subbuf = 0; subbuf * capture.subbufSize < data.bytes.length; subbuf++) {
      const at = subbuf * capture.subbufSize;
      marks.commitWords.push(data.fileOffset + at + SUBBUF_COMMIT_OFFSET);
      r.load(data.bytes, at);
      for (let index = 0; r.next(); index++) {
        const payload = data.fileOffset + r.payloadOffset;
        const header = payload - (r.typeLen === 0 ? 8 : 4);
        marks.events.push({ cpu, subbuf, index, typeLen: r.typeLen, header, payload });
        if (r.typeLen === 0) marks.lengthWords.push(header + 4);
        const format = byId.get(file[payload]! | (file[payload + 1]! << 8));
        for (const f of format?.fields ?? []) if (f.kind === FieldKind.STRING || f.kind === FieldKind.BYTES) marks.dataLocWords.push(payload + f.offset);
      }
    }
  }
  const starts = capture.cpus.filter((c) => c.bytes.length > 0).map((c) => c.fileOffset);
  if (starts.length > 0 && starts[0]! > 0) {
    const metadataEnd = Math.min(...starts);
    const text = Buffer.from(file.buffer, file.byteOffset, metadataEnd).toString('latin1');
    const table = text.indexOf('flyrecord\0') + 'flyrecord\0'.length;
    const formatNumbers = [...text.matchAll(/\t(?:offset|size):(\d+);/g)].map((m): [number, number] => [m.index + m[0].length - 1 - m[1]!.length, m.index + m[0].length - 1]);
    return { ...marks, metadataEnd, cpuTable: capture.cpus.flatMap((_, cpu) => [table + cpu * 16, table + cpu * 16 + 8]), formatNumbers };
  }
  return marks;
}

const datMarks = landmarks(datCapture, validDat);
const rawMarks = landmarks(readRaw(validRaw, rawOptions), validRaw);

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/** A copy of a valid input being damaged; every change is noted so a failure prints a recipe. */
class Editor {
  bytes: Uint8Array;
  readonly #edits: string[] = [];

  constructor(valid: Uint8Array) {
    this.bytes = valid.slice();
  }

  u8(at: number, v: number): void {
    if (!Number.isInteger(at) || at < 0 || at >= this.bytes.length) return;
    this.bytes[at] = v & 255;
    this.#edits.push(`@${at}=${hex(this.bytes.subarray(at, at + 1))}`);
  }

  /** A little-endian u32 (as far as it fits). */
  u32(at: number, v: number): void {
    if (!Number.isInteger(at) || at < 0 || at + 4 > this.bytes.length) return;
    new DataView(this.bytes.buffer).setUint32(at, v >>> 0, true);
    this.#edits.push(`@${at}=${hex(this.bytes.subarray(at, at + 4))}(u32 0x${(v >>> 0).toString(16)})`);
  }

  /** A little-endian u64 of two u32 halves. */
  u64(at: number, lo: number, hi: number): void {
    if (!Number.isInteger(at) || at < 0 || at + 8 > this.bytes.length) return;
    new DataView(this.bytes.buffer).setUint32(at, lo >>> 0, true);
    new DataView(this.bytes.buffer).setUint32(at + 4, hi >>> 0, true);
    this.#edits.push(`@${at}=${hex(this.bytes.subarray(at, at + 8))}(u64 0x${(hi >>> 0).toString(16)}_${(lo >>> 0).toString(16).padStart(8, '0')})`);
  }

  cut(length: number): void {
    this.bytes = this.bytes.slice(0, length);
    this.#edits.push(`cut to ${length} bytes`);
  }

  get recipe(): string {
    return this.#edits.join(' ');
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

type Rng = () => number;
const below = (r: Rng, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rng, items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[below(r, items.length)]);
/** An extreme value most of the time, a random one otherwise. */
const extremeOrRandom = (r: Rng): number => (r() < 0.75 ? pick(r, EXTREMES)! : (r() * 2 ** 32) >>> 0);

interface Mutation {
  readonly name: string;
  /** Aims at the trace.dat metadata (no target in a raw stream). */
  readonly datOnly?: boolean;
  readonly apply: (e: Editor, m: Landmarks, r: Rng) => void;
}

const MUTATIONS: readonly Mutation[] = [
  {
    name: 'bit flips',
    apply: (e, _m, r) => {
      for (let i = 0, n = 1 + below(r, 8); i < n; i++) {
        const at = below(r, e.bytes.length);
        e.u8(at, e.bytes[at]! ^ (1 << below(r, 8)));
      }
    },
  },
  {
    name: 'byte overwrites (0x00, 0xff, random)',
    apply: (e, _m, r) => {
      for (let i = 0, n = 1 + below(r, 16); i < n; i++) e.u8(below(r, e.bytes.length), pick(r, [0x00, 0xff, below(r, 256)])!);
    },
  },
  {
    name: 'truncation',
    apply: (e, m, r) => {
      // Anywhere, near a sub-buffer boundary, or in the trace.dat metadata.
      const n = e.bytes.length;
      const u = r();
      if (u < 0.4) e.cut(below(r, n));
      else if (u < 0.7 || m.metadataEnd === 0) e.cut(Math.max(0, Math.min(n - 1, below(r, n / SUBBUF_SIZE) * SUBBUF_SIZE + below(r, 33) - 16)));
      else e.cut(below(r, m.metadataEnd));
    },
  },
  { name: 'commit word', apply: (e, m, r) => e.u32(pick(r, m.commitWords)!, extremeOrRandom(r)) },
  { name: 'long event length word', apply: (e, m, r) => e.u32(pick(r, m.lengthWords)!, r() < 0.8 ? extremeOrRandom(r) : below(r, 8192)) },
  {
    name: 'event header word',
    apply: (e, m, r) => e.u32(pick(r, m.events)!.header, r() < 0.5 ? extremeOrRandom(r) : (below(r, 32) | (below(r, 2 ** 27) << 5)) >>> 0),
  },
  { name: '__data_loc word', apply: (e, m, r) => e.u32(pick(r, m.dataLocWords)!, r() < 0.5 ? extremeOrRandom(r) : ((below(r, 0x200) << 16) | below(r, 0x200)) >>> 0) },
  {
    name: 'common_type',
    apply: (e, m, r) => {
      const at = pick(r, m.events)!.payload + COMMON_TYPE_OFFSET;
      const id = r() < 0.5 ? below(r, 0x10000) : pick(r, [0, 0xffff, ...rawFormats.map((f) => f.id)])!;
      e.u8(at, id & 255);
      e.u8(at + 1, id >>> 8);
    },
  },
  {
    name: 'trace.dat metadata word',
    datOnly: true,
    apply: (e, m, r) => {
      if (m.metadataEnd === 0) return;
      const at = below(r, m.metadataEnd);
      if (r() < 0.5) e.u32(at, extremeOrRandom(r));
      else e.u64(at, extremeOrRandom(r), pick(r, [0, 1, 0x1fffff, 0x200000, 0xffffffff])!);
    },
  },
  {
    name: 'trace.dat event format offset/size digits',
    datOnly: true,
    apply: (e, m, r) => {
      // Same number of digits, so the format block keeps its length.
      const [start, end] = pick(r, m.formatNumbers) ?? [0, 0];
      for (let at = start; at < end; at++) e.u8(at, 0x30 + below(r, 10));
    },
  },
  {
    name: 'trace.dat cpu table entry',
    datOnly: true,
    apply: (e, m, r) => {
      const at = pick(r, m.cpuTable);
      if (at !== undefined) e.u64(at, r() < 0.5 ? extremeOrRandom(r) : below(r, 64) * SUBBUF_SIZE, pick(r, [0, 0, 0, 1, 0x1fffff, 0xffffffff])!);
    },
  },
];

/** Applies one mutation, or 2–3 of them in a row now and then. */
function mutate(valid: Uint8Array, marks: Landmarks, r: Rng): { bytes: Uint8Array; name: string; recipe: string } {
  const e = new Editor(valid);
  const names: string[] = [];
  const mutations = marks.metadataEnd > 0 ? MUTATIONS : MUTATIONS.filter((m) => m.datOnly !== true);
  for (let i = 0, n = r() < 0.8 ? 1 : 2 + below(r, 2); i < n; i++) {
    const m = pick(r, mutations)!;
    if (m.name === 'truncation' && i < n - 1) continue; // truncate last, so the other edits land
    names.push(m.name);
    m.apply(e, marks, r);
  }
  return { bytes: e.bytes, name: names.join(' + '), recipe: e.recipe || '(no change)' };
}

/** Random bytes, shaped now and then so the decoders get past their first checks. */
function randomInput(kind: 'dat' | 'raw', r: Rng): { bytes: Uint8Array; name: string; recipe: string } {
  // Mostly whole sub-buffers (anything else is only the truncation check), now and then any length.
  const length = r() < 0.8 ? (1 + below(r, 3)) * SUBBUF_SIZE : below(r, 4 * SUBBUF_SIZE);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = below(r, 256);
  const notes: string[] = [];
  if (kind === 'dat' && r() < 0.75) {
    // A valid metadata prefix: the magic and as much of the rest as one random cut leaves.
    const prefix = Math.min(length, below(r, datMarks.metadataEnd));
    bytes.set(validDat.subarray(0, prefix));
    notes.push(`valid metadata prefix of ${prefix} bytes`);
  }
  if (kind === 'raw' && r() < 0.5) {
    // Plausible commit words, so the walk reads random events.
    for (let at = 0; at + SUBBUF_SIZE <= length; at += SUBBUF_SIZE) new DataView(bytes.buffer).setUint32(at + SUBBUF_COMMIT_OFFSET, below(r, SUBBUF_SIZE - SUBBUF_DATA_OFFSET + 1), true);
    notes.push('commit words in range');
  }
  const head = hex(bytes.subarray(0, 48));
  return { bytes, name: `random ${length} bytes${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`, recipe: `starts ${head}${length > 48 ? '…' : ''}` };
}

// ---------------------------------------------------------------------------------------------
// The decoders, in a worker with a deadline
// ---------------------------------------------------------------------------------------------

/** What the worker answers for one input. */
type Outcome =
  | { readonly status: 'ok'; readonly records: number }
  | { readonly status: 'einval'; readonly message: string }
  | { readonly status: 'escaped'; readonly error: string; readonly stack: string }
  | { readonly status: 'hang' };

interface DecodeRequest {
  readonly kind: 'dat' | 'raw';
  readonly bytes: Uint8Array;
}

interface DecoderWorkerData {
  readonly formatsUrl: string;
  readonly coreUrl: string;
  readonly port: MessagePort;
  /** [0]: answers given (the worker adds 1 and notifies after each). */
  readonly signal: Int32Array;
  readonly rawFormats: readonly EventFormat[];
  readonly subbufSize: number;
}

/**
 * The worker's body. It runs from its source text (`toString()`) in the worker, so it may use
 * only its parameters and globals — no binding imported by this file.
 */
function decoderWorkerMain(formats: typeof import('@tracebuf/formats'), core: typeof import('@tracebuf/core'), data: DecoderWorkerData): void {
  const { port, signal } = data;
  const broken = (what: string): never => {
    throw Object.assign(new Error(`decoded output breaks an invariant: ${what}`), { name: 'InvariantError' });
  };
  /** A record the walk hands out must lie inside its bytes and have a finite time. */
  const checkRecord = (r: CaptureRecord, cpus: number): void => {
    if (!Number.isInteger(r.cpu) || r.cpu < 0 || r.cpu >= cpus) broken(`cpu ${r.cpu}`);
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 0 || r.offset + r.length > r.bytes.length) {
      broken(`record [${r.offset}, +${r.length}) outside its ${r.bytes.length} bytes`);
    }
    if (!Number.isFinite(r.timestamp) || r.timestamp < 0) broken(`timestamp ${r.timestamp}`);
    if (!Number.isInteger(r.lostBefore) || r.lostBefore < -1) broken(`lostBefore ${r.lostBefore}`);
  };
  const checkFields = (fields: Record<string, unknown>): void => {
    for (const [name, v] of Object.entries(fields)) if (v === undefined || (typeof v === 'number' && Number.isNaN(v))) broken(`field ${name} = ${String(v)}`);
  };
  const decode = ({ kind, bytes }: DecodeRequest): number => {
    if (kind === 'dat') {
      const capture = formats.readTraceDat(bytes);
      const n = formats.walkCapture(capture, (r) => checkRecord(r, capture.cpus.length));
      formats.decodeCapture(capture, (r) => checkFields(r.event.fields));
      formats.toText(capture);
      JSON.stringify(formats.toChromeTrace(capture));
      return n;
    }
    const capture = formats.readRaw(bytes, { subbufSize: data.subbufSize, formats: data.rawFormats, clock: 'counter' });
    const n = formats.walkCapture(capture, (r) => checkRecord(r, capture.cpus.length));
    formats.decodeCapture(capture, (r) => checkFields(r.event.fields));
    return n;
  };
  const answer = (outcome: unknown): void => {
    port.postMessage(outcome);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  };
  port.on('message', (request: DecodeRequest) => {
    try {
      answer({ status: 'ok', records: decode(request) });
    } catch (err) {
      // EINVAL naming an offset inside the input (or its end, for a cut) is the one allowed error.
      const offset = err instanceof core.TraceBufferError && err.code === 'EINVAL' ? /: offset=(\d+)$/.exec(err.message)?.[1] : undefined;
      if (offset !== undefined && Number(offset) <= request.bytes.length) answer({ status: 'einval', message: (err as Error).message });
      else answer({ status: 'escaped', error: `${(err as Error)?.name}: ${(err as Error)?.message}`, stack: String((err as Error)?.stack) });
    }
  });
  answer({ status: 'ok', records: 0 }); // ready
}

/**
 * The decoder worker, called synchronously: post an input, wait for the answer up to
 * {@link HANG_MS}. After a hang the worker is terminated and the next input starts a new one.
 */
class DecoderWorker {
  readonly #signal = new Int32Array(new SharedArrayBuffer(4));
  #worker: Worker | undefined;
  #port: MessagePort | undefined;

  /** Decodes one input in the worker. */
  decode(kind: 'dat' | 'raw', bytes: Uint8Array): Outcome {
    const port = this.#port ?? this.#start();
    const answered = Atomics.load(this.#signal, 0);
    port.postMessage({ kind, bytes } satisfies DecodeRequest);
    return this.#await(port, answered, HANG_MS);
  }

  #start(): MessagePort {
    const require = createRequire(import.meta.url);
    const channel = new MessageChannel();
    const data: DecoderWorkerData = {
      formatsUrl: pathToFileURL(require.resolve('@tracebuf/formats')).href,
      coreUrl: pathToFileURL(require.resolve('@tracebuf/core')).href,
      port: channel.port2,
      signal: this.#signal,
      rawFormats,
      subbufSize: SUBBUF_SIZE,
    };
    const source = `
      const { workerData } = require('node:worker_threads');
      Promise.all([import(workerData.formatsUrl), import(workerData.coreUrl)])
        .then(([formats, core]) => (${decoderWorkerMain.toString()})(formats, core, workerData))
        .catch((err) => {
          workerData.port.postMessage({ status: 'escaped', error: 'worker start: ' + err, stack: String(err && err.stack) });
          Atomics.add(workerData.signal, 0, 1);
          Atomics.notify(workerData.signal, 0);
        });`;
    const answered = Atomics.load(this.#signal, 0);
    this.#worker = new Worker(source, { eval: true, workerData: data, transferList: [channel.port2] });
    this.#port = channel.port1;
    const ready = this.#await(channel.port1, answered, 30_000);
    if (ready.status !== 'ok') throw new Error(`the decoder worker did not start: ${JSON.stringify(ready)}`);
    return channel.port1;
  }

  #await(port: MessagePort, answered: number, ms: number): Outcome {
    // A deadline, not a pause: the wait ends as soon as the worker notifies.
    if (Atomics.wait(this.#signal, 0, answered, ms) === 'timed-out') {
      void this.stop();
      return { status: 'hang' };
    }
    const reply = receiveMessageOnPort(port);
    if (reply === undefined) throw new Error('the decoder worker notified without an answer');
    return reply.message as Outcome;
  }

  /** Terminates the worker (the next decode starts a new one). */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#port?.close();
    this.#worker = undefined;
    this.#port = undefined;
    await worker?.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// The fuzz runs
// ---------------------------------------------------------------------------------------------

const worker = new DecoderWorker();
afterAll(async () => {
  await worker.stop();
});

/** The iteration's own PRNG stream: replayable from (seed, kind, iteration) alone. */
function streamOf(kindSalt: number, iteration: number): Rng {
  return prng((SEED ^ Math.imul(iteration + 1, 0x9e3779b1) ^ Math.imul(kindSalt, 0x85ebca6b)) >>> 0);
}

interface FuzzKind {
  readonly label: string;
  readonly kind: 'dat' | 'raw';
  readonly salt: number;
  readonly input: (r: Rng) => { bytes: Uint8Array; name: string; recipe: string };
}

const KINDS: readonly FuzzKind[] = [
  { label: 'trace.dat mutations', kind: 'dat', salt: 1, input: (r) => mutate(validDat, datMarks, r) },
  { label: 'raw stream mutations', kind: 'raw', salt: 2, input: (r) => mutate(validRaw, rawMarks, r) },
  { label: 'random bytes as a trace.dat', kind: 'dat', salt: 3, input: (r) => randomInput('dat', r) },
  { label: 'random bytes as a raw stream', kind: 'raw', salt: 4, input: (r) => randomInput('raw', r) },
];

describe(`decoders under fuzzing (TRACEBUF_FUZZ_SEED=${SEED}, ${ITERATIONS} inputs per kind)`, () => {
  it('the valid inputs decode (the mutations start from good data)', () => {
    expect(worker.decode('dat', validDat)).toEqual({ status: 'ok', records: expect.any(Number) });
    expect(worker.decode('raw', validRaw)).toEqual({ status: 'ok', records: expect.any(Number) });
    // Several sub-buffers per CPU, long events, a stored lost count: the landmarks have targets.
    expect(datCapture.cpus.length).toBe(2);
    for (const c of datCapture.cpus) expect(c.bytes.length).toBeGreaterThanOrEqual(4 * SUBBUF_SIZE);
    expect(datMarks.lengthWords.length).toBeGreaterThan(10);
    expect(rawMarks.lengthWords.length).toBeGreaterThan(5);
    let lost = 0;
    walkCapture(datCapture, (r) => (lost += r.lostBefore > 0 ? 1 : 0));
    expect(lost).toBeGreaterThan(0);
  });

  it.for(KINDS)('$label: each decodes or throws EINVAL naming an offset, nothing else', (k) => {
    const seen = { ok: 0, einval: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const input = k.input(streamOf(k.salt, i));
      const outcome = worker.decode(k.kind, input.bytes);
      if (outcome.status === 'ok' || outcome.status === 'einval') {
        seen[outcome.status]++;
        continue;
      }
      const what = outcome.status === 'hang' ? `no answer within ${HANG_MS} ms (a hang, or the worker died)` : outcome.stack.startsWith(outcome.error) ? outcome.stack : `${outcome.error}\n${outcome.stack}`;
      expect.fail(`TRACEBUF_FUZZ_SEED=${SEED} ${k.label}, iteration ${i} (replay: TRACEBUF_FUZZ_SEED=${SEED} TRACEBUF_FUZZ_ITERATIONS=${i + 1}), mutation "${input.name}": ${input.recipe}\n${what}`);
    }
    // The damage reaches the checks, and some of it (a flipped payload byte) is still valid data.
    expect(seen.einval, `TRACEBUF_FUZZ_SEED=${SEED}`).toBeGreaterThan(0);
    if (k.label.endsWith('mutations')) expect(seen.ok, `TRACEBUF_FUZZ_SEED=${SEED}`).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Each damage the issue names, exactly
// ---------------------------------------------------------------------------------------------

/** The EINVAL message `fn` throws (fails when it throws anything else or nothing). */
function einval(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TraceBufferError && err.code === 'EINVAL') return err.message;
    throw err;
  }
  throw new Error('decoded without an error');
}

const decodeRaw = (bytes: Uint8Array): number => decodeCapture(readRaw(bytes, rawOptions), () => {});
const decodeDat = (bytes: Uint8Array): number => {
  const c = readTraceDat(bytes);
  toText(c);
  toChromeTrace(c);
  return decodeCapture(c, () => {});
};
const setU32 = (bytes: Uint8Array, at: number, v: number): void => new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, v >>> 0, true);

/** A long event of `marks` away from the start: CPU 1 when there is one, sub-buffer 1, not its first event. */
function longEventOf(marks: Landmarks): EventMark {
  const cpu = Math.max(...marks.events.map((e) => e.cpu));
  const found = marks.events.find((e) => e.cpu === cpu && e.subbuf === 1 && e.index > 0 && e.typeLen === 0);
  if (found === undefined) throw new Error('the valid input has no long event to damage');
  return found;
}

describe('each damage the issue names is EINVAL naming its offset', () => {
  const inputs = [
    { name: 'raw stream', bytes: validRaw, marks: rawMarks, decode: decodeRaw },
    { name: 'trace.dat', bytes: validDat, marks: datMarks, decode: decodeDat },
  ] as const;
  const beyond = [SUBBUF_SIZE - SUBBUF_DATA_OFFSET + 1, SUBBUF_SIZE, SUBBUF_SIZE + 1, 0x7fffffff, COMMIT_LENGTH_MASK];

  describe.each(inputs)('$name', ({ bytes, marks, decode }) => {
    it.each(beyond)('a sub-buffer whose commit length is beyond its size (commit %i)', (commit) => {
      // The last CPU's next-to-last sub-buffer.
      const at = marks.commitWords[marks.commitWords.length - 2]!;
      const damaged = bytes.slice();
      setU32(damaged, at, commit);
      expect(einval(() => decode(damaged))).toMatch(new RegExp(`commit length ${commit & COMMIT_LENGTH_MASK} is beyond its data area \\(4080 bytes\\): offset=${at}$`));
    });

    it.each([0, 3])('a commit length of %i is an empty sub-buffer, not an error', (commit) => {
      const at = marks.commitWords[marks.commitWords.length - 2]!;
      const inSubbuf = marks.events.filter((e) => e.header > at && e.header < at + SUBBUF_SIZE).length;
      const damaged = bytes.slice();
      setU32(damaged, at, commit);
      expect(inSubbuf).toBeGreaterThan(0);
      expect(decode(damaged)).toBe(decode(bytes) - inSubbuf);
    });

    it.each([0, 3, 0x7fffffff, SUBBUF_SIZE, SUBBUF_SIZE + 1])('a long event whose length word (%i) points past the committed data', (length) => {
      const event = longEventOf(marks);
      const damaged = bytes.slice();
      setU32(damaged, event.header + 4, length);
      expect(einval(() => decode(damaged))).toMatch(new RegExp(`an event of \\d+ bytes runs past the committed data: offset=${event.header}$`));
    });

    it('an unknown event id', () => {
      const event = longEventOf(marks);
      const damaged = bytes.slice();
      damaged[event.payload + COMMON_TYPE_OFFSET] = 0xfe;
      damaged[event.payload + COMMON_TYPE_OFFSET + 1] = 0xff;
      expect(rawFormats.some((f) => f.id === 0xfffe)).toBe(false);
      expect(einval(() => decode(damaged))).toBe(`EINVAL: unknown event id 65534: offset=${event.payload + COMMON_TYPE_OFFSET}`);
    });
  });

  it('a raw stream that is not whole sub-buffers: EINVAL at the start of the cut one', () => {
    for (const length of [1, 100, SUBBUF_SIZE - 1, 2 * SUBBUF_SIZE + 17, validRaw.length - 1]) {
      expect(einval(() => decodeRaw(validRaw.subarray(0, length)))).toMatch(new RegExp(`truncated: offset=${Math.floor(length / SUBBUF_SIZE) * SUBBUF_SIZE}$`));
    }
  });

  it('a trace.dat cut in its metadata: EINVAL at the field the cut runs through', () => {
    // Where the fields are, from the layout the trace.dat module documents (name\0, u64 length, text).
    const text = Buffer.from(validDat.buffer, validDat.byteOffset, datMarks.metadataEnd).toString('latin1');
    const headerPageText = text.indexOf('header_page\0') + 'header_page\0'.length + 8;
    const headerEventLength = text.indexOf('header_event\0') + 'header_event\0'.length;
    const headerEventText = headerEventLength + 8;
    // After the header_event text: u32 ftrace format count (0), then the u32 system count.
    const systemCount = headerEventText + Number(new DataView(validDat.buffer).getBigUint64(headerEventLength, true)) + 4;
    const cuts: [cut: number, offset: number, what: RegExp][] = [
      [5, 0, /the magic/],
      [11, 10, /no NUL-terminated version/],
      [16, 14, /truncated in page size/],
      [headerPageText - 3, headerPageText - 8, /truncated in header_page length/],
      [headerPageText + 20, headerPageText, /truncated in header_page \(/],
      [systemCount + 2, systemCount, /truncated in system count/],
      [datMarks.cpuTable[1]! + 3, datMarks.cpuTable[1]!, /truncated in cpu data size/],
      [datMarks.cpuTable.at(-1)! + 8, datMarks.cpuTable.at(-1)! + 8, /truncated in trace_clock length/],
    ];
    for (const [cut, offset, what] of cuts) {
      const message = einval(() => decodeDat(validDat.subarray(0, cut)));
      expect(message, `cut at ${cut}`).toMatch(what);
      expect(message, `cut at ${cut}`).toMatch(new RegExp(`: offset=${offset}$`));
    }
  });

  it('a trace.dat cut in its CPU data: EINVAL at the CPU table entry whose data runs past the end', () => {
    const last = datCapture.cpus.length - 1;
    const dataEnd = datCapture.cpus[last]!.fileOffset + datCapture.cpus[last]!.bytes.length;
    expect(dataEnd).toBe(validDat.length);
    for (const cut of [validDat.length - 1, validDat.length - SUBBUF_SIZE, datCapture.cpus[last]!.fileOffset + 5]) {
      expect(einval(() => decodeDat(validDat.subarray(0, cut)))).toMatch(new RegExp(`cpu data \\(\\d+ bytes at ${datCapture.cpus[last]!.fileOffset}\\) runs past the end of the file \\(${cut} bytes\\): offset=${datMarks.cpuTable[2 * last]}$`));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Bugs found here (fixed in schema.ts: a __data_loc is bounded as its 4-byte word)
// ---------------------------------------------------------------------------------------------

describe('decoder bugs found by fuzzing', () => {
  /**
   * `decodeWith` bounds a `__data_loc` field by the size its format declares but always reads
   * the 4-byte word: a format that declares it narrower (a damaged trace.dat's format text, or
   * a hand-written one) makes it read past the record — garbage from the next bytes in the
   * middle of the data, a RangeError from `DataView.getUint32` at the end of a CPU's data.
   *
   * Input: one 4096-byte sub-buffer, zeros except commit = 4080 (@8 = f00f0000), one long
   * event filling the data area (@16 = 00000000 type_len 0, @20 = ec0f0000 length word 4076,
   * @24 = 0100 common_type 1), and the format of event 1 with
   * `field:__data_loc char[] msg; offset:4070; size:2;` — the record's last 2 bytes.
   */
  const text = [
    'name: narrow_data_loc',
    'ID: 1',
    'format:',
    '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
    '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
    '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
    '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
    '',
    '\tfield:__data_loc char[] msg;\toffset:4070;\tsize:2;\tsigned:0;',
    '',
    'print fmt: "%s", __get_str(msg)',
    '',
  ].join('\n');
  const format = parseEventFormat(text, 'demo');
  const subbuf = new Uint8Array(SUBBUF_SIZE);
  setU32(subbuf, SUBBUF_COMMIT_OFFSET, SUBBUF_SIZE - SUBBUF_DATA_OFFSET);
  setU32(subbuf, SUBBUF_DATA_OFFSET, 0);
  setU32(subbuf, SUBBUF_DATA_OFFSET + 4, SUBBUF_SIZE - SUBBUF_DATA_OFFSET - 4);
  subbuf[SUBBUF_DATA_OFFSET + 8 + COMMON_TYPE_OFFSET] = 1;
  const payloadAt = SUBBUF_DATA_OFFSET + 8;

  it('raw stream: a __data_loc declared 2 bytes wide in the last 2 bytes of the data is EINVAL (was: RangeError)', () => {
    const message = einval(() => decodeCapture(readRaw(subbuf, { formats: [format] }), () => {}));
    expect(message).toMatch(new RegExp(`field msg .*: offset=${payloadAt + 4070}$`));
  });

  it('trace.dat: the same event and format in a file is EINVAL (was: RangeError)', () => {
    const dat = new Uint8Array(toTraceDat({ subbufSize: SUBBUF_SIZE, clock: 'counter', formats: [format], threads: new Map(), cpus: [{ bytes: subbuf, fileOffset: 0 }] }));
    const dataAt = readTraceDat(dat).cpus[0]!.fileOffset;
    expect(einval(() => decodeDat(dat))).toMatch(new RegExp(`field msg .*: offset=${dataAt + payloadAt + 4070}$`));
  });
});

describe('smaller findings of the fuzzing', () => {
  it('an unaligned long-event length word is rounded up to 4, as kbuffer reads it', () => {
    // One long event of 100 payload bytes (length word 104), written as 101..103: the same event.
    for (const word of [101, 102, 103, 104]) {
      const subbuf = new Uint8Array(SUBBUF_SIZE);
      setU32(subbuf, SUBBUF_COMMIT_OFFSET, 4 + 104); // the header word and array[0] = payload + 4
      setU32(subbuf, SUBBUF_DATA_OFFSET, 0);
      setU32(subbuf, SUBBUF_DATA_OFFSET + 4, word);
      const lengths: number[] = [];
      walkCapture(readRaw(subbuf), (r) => lengths.push(r.length));
      expect(lengths, `length word ${word}`).toEqual([100]);
    }
  });

  it('readRaw rejects a cpu that is not an integer 0..4095 (EINVAL)', () => {
    for (const cpu of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => readRaw(validRaw, { cpu })).toThrow(/EINVAL: cpu .* is not an integer 0\.\.4095/);
  });
});

/**
 * Question: what does a typed event cost next to the raw write of the same bytes, how fast does
 * the raw sub-buffer stream go to a file next to the disk's own write, and how fast does a
 * trace.dat export go? (issue 9)
 *
 * 1. **Typed events.** For several schemas, `Event.write(p, ...values)` against `p.write(bytes)`
 *    of the very payload that typed write produces (common header, fields, dynamic data), one
 *    thread, one ring, `counter` and `local` clocks, batches of events per task iteration; ns per
 *    event and the ratio typed ÷ raw (goal ≤ 1.3×). Most schemas write the same values each
 *    time (a log statement's constant message: the writer keeps the last string's bytes); one
 *    rotates through 16 messages, so its string is encoded on every write.
 * 2. **Raw stream to a file.** A full ring (1024 × 4 KiB) written to a file with `writeRaw`
 *    (GET_READER, then a vectored write straight from the shared memory), against a dd-style
 *    baseline in the same run: `writeSync` of the same number of 4 KiB blocks from one buffer to
 *    a file in the same directory; MB/s and the ratio. The file is truncated before each
 *    iteration; the ring is refilled outside the timed part.
 * 3. **trace.dat export.** The same full ring (4 CPUs) to a trace.dat file (`exportTraceDat`)
 *    and in memory (`captureBuffer` + `toTraceDat`); MB/s and events/s.
 *
 * Run: `node benchmarks/dist/formats.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_SMOKE=1, TRACEBUF_BENCH_TIME_MS, TRACEBUF_BENCH_ROUNDS, TRACEBUF_BENCH_BATCH,
 * TRACEBUF_BENCH_DIR (where the files go; default the OS temp directory).
 *
 * @packageDocumentation
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FieldSpecs, type Producer, TraceBuffer, TypedEvent, defineEvent } from '@tracebuf/core';
import { captureBuffer, exportTraceDat, toTraceDat, writeRaw } from '@tracebuf/formats';
import { Bench } from 'tinybench';
import { SMOKE, envInt, environment, fixed, isMain, median, printEnvironment, printTable, writeResult } from './common.js';

/** The question this script answers (printed and stored in the JSON). */
export const QUESTION = 'typed event vs raw write of the same bytes; raw stream to a file vs the disk; trace.dat export rate';

/** The goal: a typed write costs at most this many times the raw write of its bytes. */
export const TYPED_GOAL_RATIO = 1.3;

/** A schema and one event's values. */
interface Schema {
  readonly name: string;
  readonly fields: FieldSpecs;
  readonly values: readonly unknown[];
  /** Other value sets the writes rotate through (16 in all): strings that change every event. */
  readonly varied?: (i: number) => readonly unknown[];
}

/** The schemas measured: integers only; a log line; a request; every kind of field. */
export const SCHEMAS: readonly Schema[] = [
  { name: 'ints', fields: { a: 'u32', b: 'u32', c: 'u64', d: 's16' }, values: [1, 2, 3, -4] },
  { name: 'log', fields: { level: 'u8', code: 'u32', msg: 'string' }, values: [3, 404, 'user not found: 1234'] },
  { name: 'request', fields: { id: 'u32', status: 'u16', path: 'string', bytes: 'u64' }, values: [7, 200, '/api/v1/items/42', 123_456] },
  {
    name: 'log, message varies',
    fields: { level: 'u8', code: 'u32', msg: 'string' },
    values: [3, 404, 'user not found: 1000'],
    varied: (i) => [3, 404, `user not found: ${1000 + i}`],
  },
  {
    name: 'mixed',
    fields: { n: 'u32', big: 'u64', s: 'string', tag: 'char[16]', b: 'bytes', f: 'bool' },
    values: [1, 3, 'a short message', 'tagged', Uint8Array.of(1, 2, 3, 4, 5), true],
  },
];

const CLOCKS = ['counter', 'local'] as const;
const SUBBUF_SIZE = 4096;
const NR_SUBBUFS = 256;

/** Value sets the writes rotate through (a power of two). */
const VARIED_SETS = 16;

/** The exact payload (unpadded) one typed write of `values` produces. */
function payloadOf(event: TypedEvent, values: readonly unknown[]): Uint8Array {
  const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4, clock: 'counter' });
  const p = tb.producer(0);
  event.write(p, ...values);
  const payload = [...tb.iterate()][0]!.payload;
  // The writer's own length: the fixed part plus each dynamic field's bytes.
  let length = event.fixedLength;
  for (const [i, [, spec]] of event.specs.entries()) {
    const v = values[i];
    if (spec === 'string') length += Buffer.byteLength(v as string) + 1;
    if (spec === 'bytes') length += (v as Uint8Array).length;
  }
  return payload.slice(0, length);
}

/** ns per event: median of the batch means, pooled over rounds. */
async function timeTasks(tasks: readonly { name: string; fn: () => void; beforeEach?: () => void }[], perIteration: number, timeMs: number, rounds: number): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ name: `formats round ${round + 1}`, time: timeMs, warmupTime: SMOKE ? 5 : 100, retainSamples: true, throws: true });
    for (const t of tasks) bench.add(t.name, t.fn, t.beforeEach === undefined ? {} : { beforeEach: t.beforeEach });
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`task did not complete: ${task.name} state=${r.state}`);
      const all = samples.get(task.name) ?? [];
      for (const ms of r.latency.samples ?? []) all.push((ms * 1e6) / perIteration);
      samples.set(task.name, all);
    }
  }
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

/** Fills every CPU buffer of `tb` with 64-byte payloads until each ring has wrapped once. */
function fill(tb: TraceBuffer, producers: readonly Producer[]): number {
  const payload = new Uint8Array(64).fill(0x5a);
  const perRing = Math.floor((tb.geometry(0).nrSubbufs - 1) * Math.floor((SUBBUF_SIZE - 16) / 68));
  for (const p of producers) for (let i = 0; i < perRing; i++) p.write(payload);
  return perRing * producers.length;
}

/** Runs the benchmark, prints the report and writes `benchmarks/results/formats.json`. */
export async function runFormats(): Promise<unknown> {
  const env = environment();
  const timeMs = envInt('TRACEBUF_BENCH_TIME_MS', SMOKE ? 10 : 400);
  const rounds = envInt('TRACEBUF_BENCH_ROUNDS', SMOKE ? 1 : 3);
  const batch = envInt('TRACEBUF_BENCH_BATCH', SMOKE ? 100 : 1000);
  console.log(`\n=== formats: ${QUESTION}`);
  printEnvironment(env);

  // 1. Typed events.
  const typedTasks: { name: string; fn: () => void }[] = [];
  const payloadLengths = new Map<string, number>();
  for (const clock of CLOCKS) {
    const p = TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, clock }).producer(0);
    for (const s of SCHEMAS) {
      const event = defineEvent(`bench_${s.name.replace(/\W+/g, '_')}`, s.fields);
      const sets = Array.from({ length: VARIED_SETS }, (_, i) => (s.varied === undefined ? s.values : s.varied(i)));
      const payloads = sets.map((values) => payloadOf(event, values));
      payloadLengths.set(s.name, payloads[0]!.length);
      const write = event.write;
      typedTasks.push({
        name: `${clock} ${s.name} typed`,
        fn: () => {
          for (let i = 0; i < batch; i++) {
            const v = sets[i & (VARIED_SETS - 1)]!;
            write(p, v[0], v[1], v[2], v[3], v[4], v[5]);
          }
        },
      });
      typedTasks.push({
        name: `${clock} ${s.name} raw`,
        fn: () => {
          for (let i = 0; i < batch; i++) p.write(payloads[i & (VARIED_SETS - 1)]!);
        },
      });
    }
  }
  console.log(`\n1. typed events: ${batch} events per iteration, ${timeMs} ms per task, ${rounds} round(s)`);
  const typedNs = await timeTasks(typedTasks, batch, timeMs, rounds);
  const typedRows = CLOCKS.flatMap((clock) =>
    SCHEMAS.map((s) => {
      const typed = typedNs.get(`${clock} ${s.name} typed`)!;
      const raw = typedNs.get(`${clock} ${s.name} raw`)!;
      return { clock, schema: s.name, payload: payloadLengths.get(s.name)!, typedNs: typed, rawNs: raw, ratio: typed / raw };
    }),
  );
  printTable(
    ['clock', 'schema', 'payload B', 'typed ns', 'raw write ns', 'typed ÷ raw'],
    typedRows.map((r) => [r.clock, r.schema, String(r.payload), fixed(r.typedNs), fixed(r.rawNs), `${fixed(r.ratio, 2)}×`]),
  );

  // 2. Raw stream to a file vs a dd-style write of the same blocks.
  const dir = mkdtempSync(join(process.env['TRACEBUF_BENCH_DIR'] ?? tmpdir(), 'tracebuf-bench-'));
  const ringSubbufs = SMOKE ? 64 : 1024;
  const one = TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: ringSubbufs, overwrite: true, clock: 'counter' });
  const oneProducer = one.producer(0);
  const rawFile = join(dir, 'cpu0.raw');
  const ddFile = join(dir, 'dd.bin');
  const rawFd = openSync(rawFile, 'w');
  const ddFd = openSync(ddFile, 'w');
  fill(one, [oneProducer]);
  const probe = writeRaw(one, 0, rawFd);
  const blocks = probe.subbufs;
  const block = Buffer.alloc(SUBBUF_SIZE, 0x5a);
  const streamTasks = [
    {
      name: 'writeRaw (ring → file)',
      beforeEach: () => {
        ftruncateSync(rawFd, 0);
        fill(one, [oneProducer]);
      },
      fn: () => {
        writeRaw(one, 0, rawFd);
      },
    },
    {
      name: 'dd-style writeSync (4 KiB blocks)',
      beforeEach: () => ftruncateSync(ddFd, 0),
      fn: () => {
        for (let i = 0; i < blocks; i++) writeSync(ddFd, block, 0, SUBBUF_SIZE, i * SUBBUF_SIZE);
      },
    },
  ];
  console.log(`\n2. raw stream: ${blocks} sub-buffers (${fixed((blocks * SUBBUF_SIZE) / 1e6, 2)} MB) per iteration, files in ${dir}`);
  const streamNs = await timeTasks(streamTasks, 1, timeMs * 2, rounds);
  const mbps = (ns: number): number => (blocks * SUBBUF_SIZE) / 1e6 / (ns / 1e9);
  const rawMBps = mbps(streamNs.get('writeRaw (ring → file)')!);
  const ddMBps = mbps(streamNs.get('dd-style writeSync (4 KiB blocks)')!);
  printTable(
    ['task', 'ms per ring', 'MB/s'],
    streamTasks.map((t) => [t.name, fixed(streamNs.get(t.name)! / 1e6, 2), fixed(mbps(streamNs.get(t.name)!))]),
  );
  console.log(`writeRaw ÷ dd-style: ${fixed(rawMBps / ddMBps, 2)}× the disk's write rate`);
  closeSync(rawFd);
  closeSync(ddFd);

  // 3. trace.dat export.
  const cpus = 4;
  const four = TraceBuffer.create({ cpus, subbufSize: SUBBUF_SIZE, nrSubbufs: SMOKE ? 32 : 256, overwrite: true, clock: 'counter' });
  const fourProducers = Array.from({ length: cpus }, (_, cpu) => four.producer(cpu));
  const datFile = join(dir, 'export.dat');
  let events = 0;
  const exportTasks = [
    {
      name: 'exportTraceDat (to a file)',
      beforeEach: () => {
        events = fill(four, fourProducers);
      },
      fn: () => {
        exportTraceDat(four, datFile);
      },
    },
    {
      name: 'captureBuffer + toTraceDat (memory)',
      beforeEach: () => {
        events = fill(four, fourProducers);
      },
      fn: () => {
        toTraceDat(captureBuffer(four));
      },
    },
  ];
  console.log(`\n3. trace.dat export: ${cpus} cpus × ${four.geometry(0).nrSubbufs} sub-buffers of 64-byte events`);
  const exportNs = await timeTasks(exportTasks, 1, timeMs * 2, rounds);
  fill(four, fourProducers);
  exportTraceDat(four, datFile);
  const datBytes = statSync(datFile).size;
  const exportRows = exportTasks.map((t) => {
    const ns = exportNs.get(t.name)!;
    return { task: t.name, ms: ns / 1e6, mbPerS: datBytes / 1e6 / (ns / 1e9), eventsPerS: events / (ns / 1e9) };
  });
  printTable(
    ['task', 'ms per export', 'MB/s', 'M events/s'],
    exportRows.map((r) => [r.task, fixed(r.ms, 2), fixed(r.mbPerS), fixed(r.eventsPerS / 1e6, 2)]),
  );
  rmSync(dir, { recursive: true, force: true });

  const worst = typedRows.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  const met = typedRows.filter((r) => r.ratio <= TYPED_GOAL_RATIO).length;
  const verdict =
    `typed ÷ raw ≤ ${TYPED_GOAL_RATIO}× in ${met}/${typedRows.length} (worst ${fixed(worst.ratio, 2)}× ${worst.clock} ${worst.schema}); ` +
    `writeRaw ${fixed(rawMBps)} MB/s = ${fixed(rawMBps / ddMBps, 2)}× dd-style ${fixed(ddMBps)} MB/s; ` +
    `trace.dat export ${fixed(exportRows[0]!.mbPerS)} MB/s (${fixed(exportRows[0]!.eventsPerS / 1e6, 2)} M events/s)`;
  console.log(`\nverdict: ${verdict}`);
  const result = { question: QUESTION, environment: env, typed: typedRows, stream: { blocks, rawMBps, ddMBps, ratio: rawMBps / ddMBps }, export: exportRows, goal: { typedRatio: TYPED_GOAL_RATIO, met, of: typedRows.length, verdict } };
  writeResult('formats', result);
  return result;
}

if (isMain(import.meta.url)) await runFormats();

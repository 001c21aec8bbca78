/**
 * Question: does the write hot path allocate? If it allocated even one small object per event,
 * 10 million writes would fill V8's young generation (1–16 MiB semi-spaces) many times over and
 * the garbage collector would run; if it allocates nothing, no GC runs during the writes.
 *
 * Two signals per window: the number of GC runs, and the bytes the young generation grew by
 * (exact when no GC ran in between). The second catches an allocation that is too rare or too
 * small to fill the young generation within a short (smoke) run. A window "allocates" when a GC
 * ran or the young generation grew by at least {@link ALLOCATION_BYTES_PER_WRITE} byte per write:
 * the smallest heap object is 16 bytes on x64 without pointer compression (Node's default), so
 * that is one object per 16 writes; the measurement itself (reading the counters) leaves a few
 * hundred bytes, i.e. ~0.0001 byte per write at 10 million writes.
 *
 * What runs: 10 million events (`TRACEBUF_BENCH_EVENTS` to change it) over three buffers, one per
 * clock (`mono`, `counter`, `local`), in rotation, with a mix of payload sizes that covers both
 * copy paths (byte loop and `Uint8Array.set`), the short and long event forms, padding at sub-buffer ends,
 * and — every fourth event — `reserve()`/`commit()` instead of `write()`. The rings are small and
 * in overwrite mode, so page crossings and head pushes happen all the time. After a warm-up (JIT)
 * and a forced full GC, a `PerformanceObserver` of `gc` entries counts the collections whose
 * start falls inside the timed loop; the young-generation bytes used and `heapUsed` are read
 * just before and just after it. The mixed window is followed by one window per clock (half the
 * events each), so the report says which clock allocates. (The `local` clock's ticker thread goes
 * to sleep while other windows run; the first `local` write of its window wakes it through the
 * cold path, which allocates: it reads `process.hrtime.bigint()`.)
 *
 * A positive control repeats the loop on a tenth of the events with `payload.slice()` per event
 * (one small allocation): it must show GC runs, or this detector cannot be trusted.
 *
 * Run: `node benchmarks/dist/gc-write.js` (after `npx tsc -b benchmarks`).
 * Env: TRACEBUF_BENCH_EVENTS (default 10000000), TRACEBUF_BENCH_SMOKE=1 (200000).
 *
 * @packageDocumentation
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { TraceBuffer } from '@tracebuf/core';
import type { Producer } from '@tracebuf/core';
import { SMOKE, envInt, environment, fillerBytes, fixed, isMain, printEnvironment, printTable, writeResult } from './common.js';

/** The question this script answers. */
export const QUESTION = 'does the write hot path allocate? (GC runs during 10 million write() calls)';

/** Payload sizes of the mix: byte-loop and set() copies, short and long forms, the largest payload. */
export const PAYLOAD_MIX = [0, 1, 8, 12, 20, 32, 64, 65, 100, 112, 113, 128, 256, 1024, 4072] as const;

const SUBBUF_SIZE = 4096;
const NR_SUBBUFS = 16;

/** Young-generation growth per write from which a window counts as allocating (see above). */
export const ALLOCATION_BYTES_PER_WRITE = 1;

/** GC counts by kind over one window. */
export interface GcWindow {
  readonly name: string;
  readonly events: number;
  readonly durationMs: number;
  readonly gcRuns: number;
  readonly byKind: Readonly<Record<string, number>>;
  readonly gcPauseMs: number;
  /** Young-generation bytes used after − before (only meaningful when no GC ran). */
  readonly newSpaceDeltaBytes: number;
  readonly heapUsedBefore: number;
  readonly heapUsedAfter: number;
}

const GC_KIND_NAMES: Readonly<Record<number, string>> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** `global.gc` without asking for `--expose-gc` on the command line. */
function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function newSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * Writes `count` events of the mix, taking the `producers` in rotation (one producer for a single
 * clock); `copy` allocates one payload copy per event (the control).
 */
function writeMix(producers: readonly Producer[], payloads: readonly Uint8Array[], count: number, copy: boolean): number {
  const kinds = payloads.length;
  const n = producers.length;
  let committed = 0;
  let k = 0;
  let j = 0;
  for (let i = 0; i < count; i++) {
    const p = producers[j]!;
    if (++j === n) j = 0;
    const payload = copy ? payloads[k]!.slice() : payloads[k]!;
    if (++k === kinds) k = 0;
    if ((i & 3) === 3) {
      const r = p.reserve(payload.length);
      if (r !== null) {
        r.bytes.set(payload, r.offset);
        if (p.commit()) committed++;
      }
    } else if (p.write(payload)) {
      committed++;
    }
  }
  return committed;
}

const clockSink = new Float64Array(1);

/** Runs one observed window of `count` events. */
async function observe(name: string, count: number, run: () => number): Promise<GcWindow & { committed: number }> {
  const gc = gcFunction();
  gc();
  await nextTurn();
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) entries.push(e);
  });
  observer.observe({ entryTypes: ['gc'] });
  const heapUsedBefore = process.memoryUsage().heapUsed;
  const newBefore = newSpaceUsed();
  const t0 = performance.now();
  const committed = run();
  const t1 = performance.now();
  const newAfter = newSpaceUsed();
  const heapUsedAfter = process.memoryUsage().heapUsed;
  await nextTurn(); // gc entries are delivered asynchronously
  observer.disconnect();
  const inside = entries.filter((e) => e.startTime >= t0 && e.startTime <= t1);
  const byKind: Record<string, number> = {};
  let pause = 0;
  for (const e of inside) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } | null }).detail?.kind ?? 0;
    const name = GC_KIND_NAMES[kind] ?? `kind ${kind}`;
    byKind[name] = (byKind[name] ?? 0) + 1;
    pause += e.duration;
  }
  return {
    name,
    events: count,
    durationMs: t1 - t0,
    gcRuns: inside.length,
    byKind,
    gcPauseMs: pause,
    newSpaceDeltaBytes: newAfter - newBefore,
    heapUsedBefore,
    heapUsedAfter,
    committed,
  };
}

/** Runs the check, prints the verdict and writes `benchmarks/results/gc-write.json`. */
export async function runGcWrite(events = envInt('TRACEBUF_BENCH_EVENTS', SMOKE ? 200_000 : 10_000_000)): Promise<{
  windows: GcWindow[];
  allocates: boolean | null;
}> {
  const env = environment();
  console.log(`\n=== gc-write: ${QUESTION}`);
  printEnvironment(env);
  console.log(
    `settings: ${events} events, payload mix ${PAYLOAD_MIX.join('/')} B, clocks mono, counter, local in rotation, ` +
      `every 4th event via reserve()/commit(); rings of ${NR_SUBBUFS} × ${SUBBUF_SIZE} B, overwrite`,
  );

  const make = (clock: 'mono' | 'counter' | 'local'): Producer =>
    TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, overwrite: true, clock }).producer(0);
  const mono = make('mono');
  const counter = make('counter');
  const local = make('local');
  const all = [mono, counter, local];
  const payloads = PAYLOAD_MIX.map((n, i) => fillerBytes(n, i + 7));

  // Warm-up: let the JIT compile the hot path (and the control's) before anything is observed.
  const warm = Math.min(events, 500_000);
  writeMix(all, payloads, warm, false);
  writeMix(all, payloads, Math.min(warm, 50_000), true);

  const half = Math.max(1, Math.floor(events / 2));
  const writes = await observe('mixed: mono + counter + local', events, () => writeMix(all, payloads, events, false));
  const counterOnly = await observe('counter clock only', half, () => writeMix([counter], payloads, half, false));
  const monoOnly = await observe('mono clock only', half, () => writeMix([mono], payloads, half, false));
  const localOnly = await observe('local clock only', half, () => writeMix([local], payloads, half, false));
  // What the mono clock's read alone costs: Node 20's performance.now() returns its double
  // through a C++ binding, which boxes it (one heap number per call).
  const clockOnly = await observe('performance.now() alone, nothing written', half, () => {
    for (let i = 0; i < half; i++) clockSink[0] = performance.now();
    return 0;
  });
  const controlEvents = Math.max(1, Math.floor(events / 10));
  const control = await observe('control: payload.slice() per event', controlEvents, () =>
    writeMix(all, payloads, controlEvents, true),
  );
  const windows = [writes, counterOnly, monoOnly, localOnly, clockOnly, control];

  const bytesPerWrite = (w: GcWindow): number => w.newSpaceDeltaBytes / w.events;
  const allocating = (w: GcWindow): boolean => w.gcRuns > 0 || bytesPerWrite(w) >= ALLOCATION_BYTES_PER_WRITE;
  const kinds = (w: GcWindow): string =>
    Object.entries(w.byKind)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '-';
  console.log('');
  printTable(
    ['window', 'events', 'committed', 'ns/event', 'GC runs', 'kinds', 'GC pause ms', 'young bytes/write', 'heapUsed MiB', 'allocates'],
    windows.map((w) => [
      w.name,
      String(w.events),
      String(w.committed),
      fixed((w.durationMs * 1e6) / w.events),
      String(w.gcRuns),
      kinds(w),
      fixed(w.gcPauseMs, 2),
      w.gcRuns === 0 ? fixed(bytesPerWrite(w), 4) : 'n/a (GC ran)',
      `${fixed(w.heapUsedBefore / 1048576, 2)} → ${fixed(w.heapUsedAfter / 1048576, 2)}`,
      allocating(w) ? 'YES' : 'no',
    ]),
  );

  const detectorWorks = allocating(control);
  const allocates: boolean | null = detectorWorks ? allocating(writes) : null;
  const clockWindows = { counter: counterOnly, mono: monoOnly, local: localOnly } as const;
  const culprits = Object.values(clockWindows).filter(allocating).map((w) => w.name);
  const evidence = (w: GcWindow): string =>
    w.gcRuns > 0
      ? `${w.gcRuns} GC runs (${kinds(w)}; ${fixed(w.gcPauseMs, 2)} ms of pauses)`
      : `0 GC runs but the young generation grew by ${w.newSpaceDeltaBytes} bytes (${fixed(bytesPerWrite(w), 2)} per write)`;
  let verdict: string;
  if (allocates === null) {
    verdict = 'VERDICT: INCONCLUSIVE — the control (one payload.slice() per write) was not detected either';
  } else if (!allocates) {
    verdict =
      `VERDICT: the write hot path allocates nothing — ${writes.events} writes, 0 GC runs, ` +
      `young generation +${writes.newSpaceDeltaBytes} bytes in total (${fixed(bytesPerWrite(writes), 4)} per write)`;
  } else {
    verdict =
      `VERDICT: the write hot path ALLOCATES — ${writes.events} writes: ${evidence(writes)}` +
      (culprits.length !== 0 ? `; allocating: ${culprits.join(', ')}` : '');
  }
  console.log(`\n${SMOKE ? '[smoke] ' : ''}${verdict}`);
  if (allocating(monoOnly) && allocating(clockOnly)) {
    console.log(
      `mono clock: performance.now() alone allocates as much (${evidence(clockOnly)} for ${clockOnly.events} calls, ` +
        `against ${evidence(monoOnly)} for ${monoOnly.events} mono writes): Node 20 boxes its result; tracebuf's own code on the ` +
        `path allocates nothing (counter clock: ${evidence(counterOnly)}).`,
    );
  }
  const byClock = Object.fromEntries(
    Object.entries(clockWindows).map(([clock, w]) => [
      clock,
      { allocates: allocating(w), events: w.events, gcRuns: w.gcRuns, newSpaceDeltaBytes: w.newSpaceDeltaBytes },
    ]),
  );
  for (const [clock, w] of Object.entries(clockWindows)) {
    console.log(`${clock} clock: write path ${allocating(w) ? 'ALLOCATES' : 'allocates nothing'} — ${w.events} writes, ${evidence(w)}`);
  }
  console.log(
    `control (${control.events} writes, one payload.slice() each): ${evidence(control)} — the detector ${detectorWorks ? 'works' : 'did NOT fire'}.`,
  );

  const path = writeResult('gc-write', {
    benchmark: 'gc-write',
    question: QUESTION,
    environment: env,
    settings: { events, payloadMix: PAYLOAD_MIX, subbufSize: SUBBUF_SIZE, nrSubbufs: NR_SUBBUFS, warmupEvents: warm },
    allocationBytesPerWrite: ALLOCATION_BYTES_PER_WRITE,
    windows,
    allocates,
    allocatingWindows: culprits,
    byClock,
    detectorWorks,
    verdict,
  });
  console.log(`JSON: ${path}`);
  return { windows, allocates };
}

if (isMain(import.meta.url)) await runGcWrite();

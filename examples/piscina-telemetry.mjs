// Telemetry from a piscina pool: every pool thread is a tracebuf producer of its own cpu slot.
// Tasks do some fake work and write small binary telemetry events (task start, progress, task
// end); the main thread drains the buffer while they run and prints a summary at the end. One
// long task is aborted half-way, which terminates its thread in the middle of its writes: the
// pool takes its slot back (tb.recover) and a fresh thread carries on.
//
//   npx tsc -b packages/core packages/node && node examples/piscina-telemetry.mjs
//
// This one file is both the main program and the pool's task file.
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { TraceBuffer } from '@tracebuf/core';
import { createProducerPool, poolProducer } from '@tracebuf/node/piscina';

// Event: kind u8 | pad | taskId u32 | value f64 (16 bytes).
const Kind = { START: 1, PROGRESS: 2, END: 3 };
const EVENT_LENGTH = 16;

// ---------------------------------------------------------------------------------------------
// Task (runs in the pool's threads)
// ---------------------------------------------------------------------------------------------

const event = new Uint8Array(EVENT_LENGTH);
const eventView = new DataView(event.buffer);

function emit(p, kind, taskId, value) {
  eventView.setUint8(0, kind);
  eventView.setUint32(4, taskId, true);
  eventView.setFloat64(8, value, true);
  p.write(event); // false when the ring is full (counted as droppedEvents); never throws
}

/** Fake work: hashes `rounds` blocks, reporting progress every block. */
export default function task({ taskId, rounds }) {
  const p = poolProducer(); // this thread's slot, claimed on its first task
  const started = performance.now();
  emit(p, Kind.START, taskId, rounds);
  let h = 0x811c9dc5;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 20_000; i++) h = Math.imul(h ^ (i + r), 0x01000193);
    emit(p, Kind.PROGRESS, taskId, r + 1);
  }
  emit(p, Kind.END, taskId, performance.now() - started);
  return { taskId, cpu: p.cpu, hash: h >>> 0 };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main() {
  const threads = 3;
  const tb = TraceBuffer.create({ cpus: threads, subbufSize: 4096, nrSubbufs: 16, overwrite: false });
  const pool = createProducerPool({ tb, filename: fileURLToPath(import.meta.url), minThreads: threads });
  pool.on('reclaim', (r) =>
    console.log(`slot ${r.cpu} taken back from thread ${r.threadId}${r.repaired ? ' (stopped inside a write, repaired)' : ''}`),
  );

  // A long task, aborted by the consumer once it has seen it make some progress: piscina then
  // terminates the thread that runs it, wherever it is in its writes.
  const LONG_TASK = 99;
  const ac = new AbortController();
  const aborted = pool.run({ taskId: LONG_TASK, rounds: 1_000_000 }, { signal: ac.signal }).catch((err) => err);

  // The consumer: drains every cpu slot, in commit order per slot, on a timer.
  const perCpu = Array.from({ length: threads }, () => ({ events: 0, starts: 0, ends: 0, progress: 0 }));
  const durations = [];
  const sink = (cpu, _ts, payload) => {
    const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const c = perCpu[cpu];
    c.events++;
    switch (v.getUint8(0)) {
      case Kind.START:
        c.starts++;
        break;
      case Kind.PROGRESS:
        c.progress++;
        if (v.getUint32(4, true) === LONG_TASK && v.getFloat64(8, true) >= 50) ac.abort();
        break;
      case Kind.END:
        c.ends++;
        durations.push(v.getFloat64(8, true));
        break;
    }
  };
  // A thread terminated in the middle of a write leaves its slot's counters mid-update until the
  // pool takes the slot back, which happens when this thread handles the Worker's 'exit' event.
  // A drain that meets such a slot first gives up after a second with EFAULT, having handed over
  // everything it could (nothing is lost); the next tick drains the rest once the slot is back.
  const drainer = setInterval(() => {
    try {
      tb.drainTo(sink);
    } catch (err) {
      if (err.code !== 'EFAULT') throw err;
      console.log(`drain deferred: ${err.message}`);
    }
  }, 10);

  const tasks = [];
  for (let taskId = 1; taskId <= 24; taskId++) tasks.push(pool.run({ taskId, rounds: 20 + (taskId % 7) * 10 }));
  const results = await Promise.all(tasks);
  console.log(`long task ${LONG_TASK}: ${(await aborted).name}`);
  await pool.destroy(); // every thread has exited and its slot is free again
  clearInterval(drainer);
  tb.drainTo(sink); // whatever is left

  console.log(`\n${results.length} short tasks done on slots ${[...new Set(results.map((r) => r.cpu))].sort().join(', ')}`);
  console.log('slot  events  starts  ends  progress  dropped');
  for (let cpu = 0; cpu < threads; cpu++) {
    const c = perCpu[cpu];
    const s = tb.stats(cpu);
    console.log(
      `${String(cpu).padStart(4)}  ${String(c.events).padStart(6)}  ${String(c.starts).padStart(6)}  ${String(c.ends).padStart(4)}  ${String(c.progress).padStart(8)}  ${String(s.droppedEvents).padStart(7)}`,
    );
  }
  const mean = durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length);
  console.log(`tasks seen ending: ${durations.length}, mean task time ${mean.toFixed(1)} ms`);
  console.log(`slots taken back from exited threads: ${pool.reclaimed.slots} (${pool.reclaimed.repaired} repaired)`);
  for (let cpu = 0; cpu < threads; cpu++) tb.producer(cpu).release(); // all free again
}

if (isMainThread) await main();

// A script to run under `tracebuf record`: it writes typed events from its own thread and from
// two workers it starts, including Chrome-trace spans and counters, then ends.
//
//   npm run -s build && node packages/cli/dist/bin.js record -o /tmp/traced.dat examples/traced-script.mjs 20000
//   node packages/cli/dist/bin.js report /tmp/traced.dat | head          # or: trace-cmd report /tmp/traced.dat
//   node packages/cli/dist/bin.js report --chrome -o /tmp/traced.json /tmp/traced.dat   # open in ui.perfetto.dev
//
// Without `tracebuf record` it makes a buffer of its own and prints what it wrote.
import { Worker, workerData } from 'node:worker_threads';
import { TraceBuffer, defineEvent } from '@tracebuf/core';
import { CounterSample, SpanBegin, SpanEnd } from '@tracebuf/formats';
import { recordingBuffer } from '@tracebuf/node';

// Typed events: defined once, at module level, in every thread (the same fields give the same
// ID everywhere: the registry is shared by the buffer's threads).
const Request = defineEvent('request', { id: 'u32', status: 'u16', path: 'string', bytes: 'u64' });

function work(tb, label, count) {
  const p = tb.producer();
  SpanBegin.write(p, label, 'work');
  for (let i = 0; i < count; i++) {
    Request.write(p, i, i % 17 === 0 ? 500 : 200, `/items/${i % 100}`, i * 1024);
    if (i % 1000 === 0) CounterSample.write(p, `${label} done`, i);
  }
  SpanEnd.write(p, label);
  p.release();
}

// (Under `tracebuf record` this script itself runs in a worker thread, so its role comes from
// workerData, not from isMainThread.)
if (workerData?.label === undefined) {
  const count = Number(process.argv[2] ?? 10_000);
  const recorded = recordingBuffer();
  const tb = recorded ?? TraceBuffer.create({ cpus: 3 });
  await Promise.all(
    [1, 2].map(
      (n) =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { handle: tb.handle, label: `worker ${n}`, count } });
          w.once('exit', resolve);
          w.once('error', reject);
        }),
    ),
  );
  work(tb, 'main', count);
  if (recorded === undefined) console.log(`wrote ${3 * count} requests; run me under \`tracebuf record\` to keep them`);
} else {
  work(TraceBuffer.attach(workerData.handle), workerData.label, workerData.count);
}

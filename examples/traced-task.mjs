// A piscina task file for `tracebuf record --pool`: every pool thread writes typed events into
// its own ring of the recorded buffer.
//
//   npm run -s build && node packages/cli/dist/bin.js record --pool 2 --tasks 8 -o /tmp/pool.dat examples/traced-task.mjs
//   node packages/cli/dist/bin.js report /tmp/pool.dat | tail -3
import { isMainThread } from 'node:worker_threads';
import { defineEvent } from '@tracebuf/core';
import { SpanBegin, SpanEnd } from '@tracebuf/formats';
import { poolProducer } from '@tracebuf/node/piscina';

const Step = defineEvent('task_step', { task: 'u32', step: 'u32', checksum: 'u64' });

export default function task({ index }) {
  const p = poolProducer();
  SpanBegin.write(p, `task ${index}`, 'pool');
  let sum = 0;
  for (let step = 0; step < 1000; step++) {
    sum = (sum + step * index) % 1_000_003;
    Step.write(p, index, step, sum);
  }
  SpanEnd.write(p, `task ${index}`);
  return sum;
}

if (isMainThread) {
  console.log('traced-task.mjs is a piscina task file: run it with');
  console.log('  node packages/cli/dist/bin.js record --pool 2 --tasks 8 -o /tmp/pool.dat examples/traced-task.mjs');
}

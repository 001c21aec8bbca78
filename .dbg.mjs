import { TraceBuffer } from '@tracebuf/core';
import { createLogger, LogConsumer } from '@tracebuf/log';
const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4, overwrite: true });
const lines = [];
const consumer = new LogConsumer(tb, { destination: (t) => lines.push(...t.split('\n').filter(Boolean)) });
const log = createLogger(tb);
for (let i = 0; i < 2000; i++) log.info({ i }, 'filler %d', i);
consumer.drain();
console.log(lines.length, lines.slice(0, 3), lines.at(-1), tb.stats(0));

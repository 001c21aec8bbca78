import { TraceBuffer } from '@tracebuf/core';
import { createLogger } from '@tracebuf/log';
const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 1024, overwrite: true, clock: 'local' });
const log = createLogger(tb).child({ component: 'bench' });
const p2 = TraceBuffer.create({ cpus: 1, nrSubbufs: 1024, overwrite: true, clock: 'local' }).producer();
const payload = new Uint8Array(100);
const variants = {
  full: (i) => log.info({ user: 42, path: '/api/items', ok: true }, 'request %d served in %s ms', i, 'fast'),
  noobj: (i) => log.info('request %d served in %s ms', i, 'fast'),
  msgonly: (i) => log.info('request served'),
  objonly: (i) => log.info({ user: 42, path: '/api/items', ok: true }),
  rawwrite100: (i) => p2.write(payload),
};
const N = 2_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  for (let i = 0; i < 200000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(12), ns.toFixed(1), 'ns');
}

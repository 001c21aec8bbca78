import { Encoder } from './packages/log/dist/record.js';
const e = new Encoder(4096); e.room = 3000;
const bind = Buffer.from(',"component":"bench"');
const variants = {
  obj: (i) => { e.at = 0; e.object({ user: 42, path: '/api/items', ok: true }); },
  args: (i) => { e.at = 0; e.value(i); e.value('fast'); },
  raw: (i) => { e.at = 0; e.raw(bind); },
  str10: (i) => { e.at = 0; e.string('/api/items'); },
  forin: (i) => { const o = { user: 42, path: '/api/items', ok: true }; let n = 0; for (const k in o) n += k.length; return n; },
};
const N = 5_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  for (let i = 0; i < 200000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(12), ns.toFixed(1), 'ns');
}

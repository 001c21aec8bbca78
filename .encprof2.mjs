import { Encoder } from './packages/log/dist/record.js';
const e = new Encoder(4096); e.room = 3000;
const shape = { keys: ['user', 'path', 'ok'], id: 100 };
const variants = {
  shaped: (i) => { e.at = 0; e.object({ user: 42, path: '/api/items', ok: true }, shape); },
  values: (i) => { e.at = 0; e.value(42); e.value('/api/items'); e.value(true); },
  int: (i) => { e.at = 0; e.value(i); },
  bool: (i) => { e.at = 0; e.value(true); },
  str: (i) => { e.at = 0; e.value('/api/items'); },
  alloc: (i) => { const o = { user: 42, path: '/api/items', ok: true }; return o; },
  proto: (i) => { const o = { user: 42, path: '/api/items', ok: true }; return Object.getPrototypeOf(o) === Object.prototype; },
};
const N = 5_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  for (let i = 0; i < 200000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(12), ns.toFixed(1), 'ns');
}

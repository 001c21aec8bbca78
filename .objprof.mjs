const keysC = ['user', 'path', 'ok'];
const u8 = new Uint8Array(4096);
function forin(o) { let j = 0; for (const k in o) { const v = o[k]; if (keysC[j] !== k) return false; j++; } return j === 3; }
function forinTypes(o) { let j = 0; for (const k in o) { const v = o[k]; if (typeof v === 'function' || typeof v === 'symbol') continue; if (j === keysC.length || keysC[j] !== k || (typeof v === 'object' && v !== null && !(v instanceof Error))) return false; j++; } return j === 3; }
function gpo(o) { return Object.getPrototypeOf(o) === Object.prototype && forinTypes(o); }
const variants = {
  forin: () => forin({ user: 42, path: '/api/items', ok: true }),
  forinTypes: () => forinTypes({ user: 42, path: '/api/items', ok: true }),
  gpo: () => gpo({ user: 42, path: '/api/items', ok: true }),
};
const N = 5_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  for (let i = 0; i < 200000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(12), ns.toFixed(1), 'ns');
}
function f2(o) { let j = 0; for (const k in o) { const v = o[k]; if (keysC[j] !== k) { if (typeof v === 'function' || typeof v === 'symbol') continue; return false; } if (typeof v === 'object' && v !== null && !(v instanceof Error)) return false; j++; } return j === 3; }
function f3(o) { let j = 0; for (const k in o) { const v = o[k]; if (keysC[j] !== k) { if (typeof v === 'function' || typeof v === 'symbol') continue; return false; } j++; } return j === 3; }
const v2 = { f2: () => f2({ user: 42, path: '/api/items', ok: true }), f3: () => f3({ user: 42, path: '/api/items', ok: true }) };
for (const round of [0, 1]) for (const [name, f] of Object.entries(v2)) {
  for (let i = 0; i < 200000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(12), ns.toFixed(1), 'ns');
}

const u8 = new Uint8Array(4096); const dv = new DataView(u8.buffer); const buf = Buffer.from(u8.buffer);
let at = 0;
function a(s) { const n = s.length; const start = at + 5; let i = 0; for (; i < n; i++) { const c = s.charCodeAt(i); if (c >= 0x80) break; u8[start + i] = c; } u8[at] = 6; dv.setUint32(at + 1, n, true); at = start + n; }
function b(s) { const n = s.length; const start = at + 5; let or = 0; for (let i = 0; i < n; i++) { const c = s.charCodeAt(i); or |= c; u8[start + i] = c; } u8[at] = 6; u8[at+1]=n; u8[at+2]=n>>8; u8[at+3]=0; u8[at+4]=0; at = start + n; return or; }
function c(s) { u8[at] = 6; const n = buf.latin1Write(s, at + 5); dv.setUint32(at + 1, n, true); at += 5 + n; }
function d(s) { u8[at] = 6; const r = te.encodeInto(s, u8.subarray(at + 5)); dv.setUint32(at + 1, r.written, true); at += 5 + r.written; }
const te = new TextEncoder();
const variants = { a, b, c, d };
const N = 5_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) { at = 0; f('/api/items'); f('user'); f('fast'); }
  const ns = Number(process.hrtime.bigint() - t) / N / 3;
  if (round) console.log(name.padEnd(12), ns.toFixed(1), 'ns');
}

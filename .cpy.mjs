const b = Buffer.allocUnsafe(1 << 16);
const src = Buffer.from(',"pid":31961,"hostname":"vm","component":"bench"');
const u8src = new Uint8Array(src);
let at = 0;
const variants = {
  loop: () => { let a = at; for (let i = 0; i < src.length; i++) b[a++] = src[i]; at = a; },
  copy: () => { at += src.copy(b, at); },
  set: () => { b.set(u8src, at); at += u8src.length; },
};
const N = 5_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) { at = 0; f(); }
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(12), src.length, 'bytes', ns.toFixed(1), 'ns');
}

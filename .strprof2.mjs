class E1 {
  constructor() { this.bytes = new Uint8Array(4096); this.view = new DataView(this.bytes.buffer); this.at = 0; this.room = 3000; }
  string(s) {
    const units = s.length;
    const at = this.at;
    if (units <= 64 && at + units + 5 <= this.room) {
      const u8 = this.bytes;
      const start = at + 5;
      let i = 0;
      for (; i < units; i++) { const c = s.charCodeAt(i); if (c >= 0x80) break; u8[start + i] = c; }
      if (i === units) { u8[at] = 6; u8[at + 1] = units; u8[at + 2] = 0; u8[at + 3] = 0; u8[at + 4] = 0; this.at = start + units; return; }
    }
    throw new Error('x');
  }
  value(v) {
    if (this.at + 16 > this.room) throw new Error();
    switch (typeof v) { case 'string': this.string(v); return; case 'number': this.bytes[this.at] = 4; this.view.setInt32(this.at + 1, v, true); this.at += 5; return; case 'boolean': this.bytes[this.at++] = v ? 3 : 2; return; }
  }
}
class E2 {
  #bytes = new Uint8Array(4096); #view = new DataView(this.#bytes.buffer); at = 0; room = 3000;
  string(s) {
    const units = s.length;
    if (units <= 64 && this.at + units + 5 <= this.room) {
      const u8 = this.#bytes; const start = this.at + 5; let i = 0;
      for (; i < units; i++) { const c = s.charCodeAt(i); if (c >= 0x80) break; u8[start + i] = c; }
      if (i === units) { u8[this.at] = 6; this.#view.setUint32(this.at + 1, units, true); this.at = start + units; return; }
    }
    throw new Error('x');
  }
}
const e1 = new E1(), e2 = new E2();
const proto = { a: 0 };
const variants = {
  e1str: () => { e1.at = 0; e1.string('/api/items'); },
  e2str: () => { e2.at = 0; e2.string('/api/items'); },
  e1val: () => { e1.at = 0; e1.value('/api/items'); },
  gpo: () => { const o = { user: 42, path: '/api/items', ok: true }; return Object.getPrototypeOf(o) === Object.prototype; },
  ctor: () => { const o = { user: 42, path: '/api/items', ok: true }; return o.constructor === Object; },
};
const N = 5_000_000;
for (const round of [0, 1]) for (const [name, f] of Object.entries(variants)) {
  for (let i = 0; i < 200000; i++) f(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (round) console.log(name.padEnd(12), ns.toFixed(1), 'ns');
}

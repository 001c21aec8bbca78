/**
 * Typed events (issue 9): `defineEvent(name, fields)` compiles a schema to an allocation-free
 * writer; every event starts with the ftrace common fields; each schema renders its ftrace
 * `format` text; the registry is shared by every thread of a buffer, so a consumer decodes by ID
 * without being told the schemas.
 */
import { Worker } from 'node:worker_threads';
import { type DecodedEvent, EventRegistry, THREAD_PID, TraceBuffer, TraceBufferError, defineEvent, formatText, layout, parseEventFormat } from '@tracebuf/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { codeOf } from './support/errors.js';
import { gcRunsDuring } from './support/gc.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

/** The common fields' lines, as tracefs prints them in every event's format. */
const COMMON_LINES = [
  '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
  '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
  '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
  '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
];

const ALL = {
  a8: 'u8',
  b8: 's8',
  a16: 'u16',
  b16: 's16',
  a32: 'u32',
  b32: 's32',
  a64: 'u64',
  b64: 's64',
  flag: 'bool',
  tag: 'char[8]',
  msg: 'string',
  blob: 'bytes',
} as const;

function decodedAll(tb: TraceBuffer): ReturnType<TraceBuffer['events']['decode']>[] {
  return [...tb.iterate()].map((e) => tb.events.decode(e.payload));
}

describe('defineEvent', () => {
  it('writes every field type and decodes it back by ID, with the common header first', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8 });
    const All = defineEvent('all_types', ALL);
    const p = tb.producer();
    const big = 2n ** 63n + 5n;
    expect(All.write(p, 255, -128, 65535, -32768, 4294967295, -2147483648, big, -(2n ** 63n), true, 'abcdefghij', 'héllo wörld', Uint8Array.of(1, 2, 255))).toBe(true);
    expect(All.write(p, 0, 0, 0, 0, 0, 0, 2 ** 53 - 1, -(2 ** 40), false, '', '', new Uint8Array(0))).toBe(true);
    expect(All.emit(p, { a8: 1, b8: -1, a16: 2, b16: -2, a32: 3, b32: -3, a64: 4, b64: -4, flag: true, tag: 'x', msg: 'm'.repeat(300), blob: Uint8Array.of(9) })).toBe(true);
    const events = [...tb.iterate()];
    const payload = events[0]!.payload;
    const view = new DataView(payload.buffer, payload.byteOffset);
    expect(view.getUint16(layout.COMMON_TYPE_OFFSET, true)).toBe(layout.EVENT_ID_BASE);
    expect(payload[layout.COMMON_FLAGS_OFFSET]).toBe(0);
    expect(payload[layout.COMMON_PREEMPT_COUNT_OFFSET]).toBe(0);
    expect(view.getInt32(layout.COMMON_PID_OFFSET, true)).toBe(THREAD_PID);
    const [first, second, third] = events.map((e) => tb.events.decode(e.payload));
    expect(first).toEqual({
      id: layout.EVENT_ID_BASE,
      system: 'tracebuf',
      name: 'all_types',
      pid: THREAD_PID,
      fields: { a8: 255, b8: -128, a16: 65535, b16: -32768, a32: 4294967295, b32: -2147483648, a64: big, b64: -(2n ** 63n), flag: true, tag: 'abcdefg', msg: 'héllo wörld', blob: Uint8Array.of(1, 2, 255) },
    });
    expect(second!.fields).toEqual({ a8: 0, b8: 0, a16: 0, b16: 0, a32: 0, b32: 0, a64: 2 ** 53 - 1, b64: -(2 ** 40), flag: false, tag: '', msg: '', blob: new Uint8Array(0) });
    expect(third!.fields.msg).toBe('m'.repeat(300));
    expect(third!.fields.b64).toBe(-4);
  });

  it('round-trips any values: strings repeated or not, ASCII or not, short or over the scratch, fields at any alignment', () => {
    // fast-check prints its seed and the shrunk counterexample on failure; TRACEBUF_SEED=<n> replays.
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 64, overwrite: false, clock: 'counter' });
    const e = tb.defineEvent('prop', { a: 'u8', tag: 'char[5]', s1: 'string', b16: 's16', s2: 'string', blob: 'bytes', odd: 'char[3]', n: 'u64' });
    const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ minLength: 250, maxLength: 400 }), fc.constantFrom('', 'same', 'ünï'));
    const record = fc.tuple(fc.integer({ min: 0, max: 255 }), text, text, fc.integer({ min: -32768, max: 32767 }), text, fc.uint8Array({ maxLength: 40 }), text, fc.maxSafeNat());
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 30 }), (records) => {
        const p = tb.producer(0);
        try {
          for (const r of records) expect(e.write(p, ...r)).toBe(true);
        } finally {
          p.release();
        }
        const got: DecodedEvent['fields'][] = [];
        tb.drainTo((_cpu, _ts, payload) => got.push(tb.events.decode(payload).fields));
        const cut = (s: string, bytes: number): string => {
          let out = '';
          for (const ch of s) {
            if (Buffer.byteLength(out + ch) > bytes) break;
            out += ch;
          }
          return out;
        };
        expect(got).toEqual(records.map(([a, tag, s1, b16, s2, blob, odd, n]) => ({ a, tag: cut(tag, 4), s1, b16, s2, blob, odd: cut(odd, 2), n })));
      }),
      { numRuns: 150, ...(process.env['TRACEBUF_SEED'] ? { seed: Number(process.env['TRACEBUF_SEED']) } : {}) },
    );
  });

  it('lays fields out as the kernel struct would and prints the ftrace format text', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4 });
    const e = tb.defineEvent('sample', { seq: 'u32', flag: 'bool', big: 'u64', msg: 'string', tag: 'char[8]', neg: 's16' });
    expect(e.fields.map((f) => [f.name, f.offset, f.size])).toEqual([
      ['seq', 8, 4],
      ['flag', 12, 1],
      ['big', 16, 8],
      ['msg', 24, 4],
      ['tag', 28, 8],
      ['neg', 36, 2],
    ]);
    expect(e.fixedLength).toBe(40);
    const format = tb.events.formats()[0]!;
    expect(formatText(format)).toBe(
      [
        'name: sample',
        `ID: ${layout.EVENT_ID_BASE}`,
        'format:',
        ...COMMON_LINES,
        '',
        '\tfield:u32 seq;\toffset:8;\tsize:4;\tsigned:0;',
        '\tfield:bool flag;\toffset:12;\tsize:1;\tsigned:0;',
        '\tfield:u64 big;\toffset:16;\tsize:8;\tsigned:0;',
        '\tfield:__data_loc char[] msg;\toffset:24;\tsize:4;\tsigned:0;',
        '\tfield:char tag[8];\toffset:28;\tsize:8;\tsigned:0;',
        '\tfield:s16 neg;\toffset:36;\tsize:2;\tsigned:1;',
        '',
        'print fmt: "seq=%u flag=%d big=%llu msg=%s tag=%s neg=%hd", REC->seq, REC->flag, REC->big, __get_str(msg), REC->tag, REC->neg',
        '',
      ].join('\n'),
    );
    // The text parses back to the same format (what a trace.dat reader does).
    expect(parseEventFormat(formatText(format), 'tracebuf')).toEqual(format);
  });

  it('parses a kernel format text (ftrace raw_data, sched_switch) and decodes with it', () => {
    const rawData = [
      'name: raw_data',
      'ID: 19',
      'format:',
      ...COMMON_LINES,
      '',
      '\tfield:unsigned int id;\toffset:8;\tsize:4;\tsigned:0;',
      '\tfield:char buf[];\toffset:12;\tsize:0;\tsigned:0;',
      '',
      'print fmt: "id:%04x %08x", REC->id, (int)REC->buf[0]',
    ].join('\n');
    const f = parseEventFormat(rawData, 'ftrace');
    expect(f.fields.map((x) => [x.name, x.kind, x.offset, x.size, x.signed])).toEqual([
      ['id', 'int', 8, 4, false],
      ['buf', 'char', 12, 0, false],
    ]);
    const sched = parseEventFormat(
      'name: sched_switch\nID: 316\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\tfield:__data_loc char[] name;\toffset:40;\tsize:4;\tsigned:0;\n\nprint fmt: "x"\n',
      'sched',
    );
    expect(sched.fields.map((x) => [x.name, x.kind, x.signed])).toEqual([
      ['prev_comm', 'char', false],
      ['prev_pid', 'int', true],
      ['prev_state', 'int', true],
      ['name', 'string', false],
    ]);
    expect(codeOf(() => parseEventFormat('name: x\nformat:\n', 's'))).toBe('EINVAL');
    expect(codeOf(() => parseEventFormat('name: x\nID: 5\nformat:\n\tfield:int a;\toffset:zz;\n', 's'))).toBe('EINVAL');
  });

  it('rejects bad schemas and bad values with EINVAL, writing nothing', () => {
    expect(codeOf(() => defineEvent('bad name', { a: 'u8' }))).toBe('EINVAL');
    expect(codeOf(() => defineEvent('x', {}))).toBe('EINVAL');
    expect(codeOf(() => defineEvent('x', { common_a: 'u8' }))).toBe('EINVAL');
    expect(codeOf(() => defineEvent('x', { a: 'u128' as 'u8' }))).toBe('EINVAL');
    expect(codeOf(() => defineEvent('x', { a: 'char[0]' }))).toBe('EINVAL');
    expect(codeOf(() => defineEvent('x', { a: 'u8' }, { system: '9lives' }))).toBe('EINVAL');
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4 });
    const e = defineEvent('vals', { n: 'u32', s: 'string', b: 'bytes', f: 'bool', big: 'u64' });
    const p = tb.producer();
    expect(codeOf(() => e.write(p, '1', 's', new Uint8Array(0), true, 1))).toBe('EINVAL');
    expect(codeOf(() => e.write(p, 1, 5, new Uint8Array(0), true, 1))).toBe('EINVAL');
    expect(codeOf(() => e.write(p, 1, 's', [1, 2], true, 1))).toBe('EINVAL');
    expect(codeOf(() => e.write(p, 1, 's', new Uint8Array(0), 1, 1))).toBe('EINVAL');
    expect(codeOf(() => e.write(p, 1, 's', new Uint8Array(0), true, '1'))).toBe('EINVAL');
    // Longer than a __data_loc's 16-bit length, and longer than the largest payload.
    expect(codeOf(() => e.write(p, 1, 'x'.repeat(70000), new Uint8Array(0), true, 1))).toBe('EINVAL');
    expect(codeOf(() => e.write(p, 1, 'x'.repeat(5000), new Uint8Array(0), true, 1))).toBe('EINVAL');
    expect([...tb.iterate()]).toEqual([]);
    expect(tb.stats(0).entries).toBe(0);
    // The producer still works after the rejected calls.
    expect(e.write(p, 1, 'ok', new Uint8Array(0), true, 1)).toBe(true);
    expect(decodedAll(tb).map((d) => d.fields.s)).toEqual(['ok']);
  });

  it('registers once per name: the same fields give the same ID, other fields EEXIST', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4 });
    const a = tb.defineEvent('twice', { n: 'u32' });
    const b = tb.defineEvent('twice', { n: 'u32' });
    expect(a.registerIn(tb.events)).toBe(b.registerIn(tb.events));
    expect(codeOf(() => tb.defineEvent('twice', { n: 'u64' }))).toBe('EEXIST');
    // Another system is another event.
    const c = tb.defineEvent('twice', { n: 'u64' }, { system: 'other' });
    expect(c.registerIn(tb.events)).toBe(a.registerIn(tb.events) + 1);
    expect(tb.events.formats().map((f) => `${f.system}:${f.name}:${f.id}`)).toEqual([`tracebuf:twice:${layout.EVENT_ID_BASE}`, `other:twice:${layout.EVENT_ID_BASE + 1}`]);
  });

  it('an unknown ID or a record shorter than its fields is EINVAL naming the offset', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4 });
    const e = tb.defineEvent('short', { n: 'u32', s: 'string' });
    const p = tb.producer();
    e.write(p, 1, 'abc');
    const payload = [...tb.iterate()][0]!.payload;
    const unknown = payload.slice();
    unknown[0] = 0x39;
    unknown[1] = 0x30;
    expect(() => tb.events.decode(unknown, 0, unknown.length, 500)).toThrow(/unknown event id 12345: offset=500/);
    expect(codeOf(() => tb.events.decode(payload, 0, 10))).toBe('EINVAL');
    const badLoc = payload.slice();
    new DataView(badLoc.buffer).setUint32(12, (200 << 16) | 16, true);
    expect(() => tb.events.decode(badLoc)).toThrow(TraceBufferError);
    expect(codeOf(() => tb.events.decode(badLoc))).toBe('EINVAL');
  });

  it('a full registry is ENOSPC and changes nothing', () => {
    const sab = EventRegistry.allocate(256);
    const tb = TraceBuffer.attach({ ...TraceBuffer.create({ cpus: 1, nrSubbufs: 4 }).handle, events: sab });
    let n = 0;
    let code: string | undefined;
    while (code === undefined && n < 100) code = codeOf(() => tb.defineEvent(`event_${n++}`, { value: 'u32' }));
    expect(code).toBe('ENOSPC');
    const count = tb.events.formats().length;
    expect(count).toBeGreaterThan(0);
    expect(codeOf(() => tb.defineEvent(`event_${n}`, { value: 'u32' }))).toBe('ENOSPC');
    expect(tb.events.formats().length).toBe(count);
  });

  it('the writer allocates nothing per event (no GC runs over 1 M events; an allocating control shows them)', async () => {
    // The counter clock: performance.now() (the mono clock) allocates on Node 20 by itself.
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16, clock: 'counter' });
    const e = defineEvent('alloc', { n: 'u32', big: 'u64', s: 'string', tag: 'char[16]', b: 'bytes', f: 'bool', long: 'string' });
    const p = tb.producer();
    const blob = Uint8Array.of(1, 2, 3, 4, 5);
    const messages = ['a short message', 'another message', 'ünïcödé text', 'x'.repeat(200)];
    const run = (copy: boolean) => (): void => {
      for (let i = 0; i < 1_000_000; i++) e.write(p, i, i * 3, messages[i & 3]!, 'tagged', copy ? blob.slice() : blob, (i & 1) === 0, messages[(i + 1) & 3]!);
    };
    run(false)(); // warm up (compiles the writer)
    expect(await gcRunsDuring(run(false))).toBe(0);
    expect(await gcRunsDuring(run(true))).toBeGreaterThan(0);
  });
});

describe('the event registry across threads', () => {
  it('a worker registers and writes; the main thread decodes by ID without being told the schemas', async () => {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 32, overwrite: false });
    // The main thread defines `shared` with the same fields first: the worker gets the same ID.
    const Shared = tb.defineEvent('shared', { seq: 'u32', who: 'string' });
    const w = new Worker(new URL('./fixtures/typed-event-worker.mjs', import.meta.url), { workerData: { handle: tb.handle, count: 50 } });
    workers.add(w);
    const ids = await new Promise<{ sharedId: number; workerOnlyId: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(ids.sharedId).toBe(Shared.registerIn(tb.events));
    expect(tb.events.format(ids.workerOnlyId)?.name).toBe('worker_only');
    const decoded = decodedAll(tb);
    expect(decoded).toHaveLength(100);
    const workerPid = decoded[0]!.pid;
    expect(workerPid).not.toBe(THREAD_PID);
    expect(decoded.filter((d) => d.name === 'shared').map((d) => d.fields.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const only = decoded.filter((d) => d.name === 'worker_only');
    expect(only[3]!.fields).toEqual({ seq: 3_000_000_021, tag: 'w3', blob: Uint8Array.of(3, 7) });
    expect(tb.events.threads().get(workerPid)).toMatch(/^worker-\d+$/);
  });

  it('a snapshot shares the registry: its events decode the same', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8 });
    const e = tb.defineEvent('snap', { n: 'u16' });
    const p = tb.producer();
    e.write(p, 7);
    const snap = tb.snapshot();
    expect(snap.events.formats()).toEqual(tb.events.formats());
    expect([...snap.iterate()].map((x) => snap.events.decode(x.payload).fields.n)).toEqual([7]);
  });
});

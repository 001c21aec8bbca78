/**
 * The decoders against damaged input (issue 9): random bytes and mutations of valid trace.dat
 * files and raw streams (bit flips, byte overwrites, truncations, extreme commit and length
 * words) must either decode or throw a `TraceBufferError` with code EINVAL naming an offset —
 * never another error type, never a hang. Each damage the issue names gets its own exact case.
 *
 * Seeded: `TRACEBUF_FUZZ_SEED` replays a run, `TRACEBUF_FUZZ_ITERATIONS` sets its length (default
 * 400 per input kind); a failure prints the seed, the iteration and the mutation.
 */
import { TraceBuffer, TraceBufferError, defineEvent, layout } from '@tracebuf/core';
import { type Capture, captureBuffer, readRaw, readTraceDat, toChromeTrace, toText, toTraceDat, walkCapture } from '@tracebuf/formats';
import { describe, expect, it } from 'vitest';
import { prng } from '../../core/test/support/kernel-differential.js';

const SEED = process.env['TRACEBUF_FUZZ_SEED'] ? Number(process.env['TRACEBUF_FUZZ_SEED']) : (Date.now() ^ (process.pid << 8)) >>> 0;
const ITERATIONS = Number(process.env['TRACEBUF_FUZZ_ITERATIONS'] ?? 400);

const rng = prng;

const Sample = defineEvent('fuzz_sample', { seq: 'u32', big: 'u64', msg: 'string', tag: 'char[6]', blob: 'bytes', neg: 's16' });

/** A valid capture: 2 CPUs, several sub-buffers each, long (type_len 0) events, lost events. */
function validCapture(): Capture {
  const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 6, clock: 'counter' });
  const ps = [tb.producer(0), tb.producer(1)];
  for (let i = 0; i < 400; i++) Sample.write(ps[i & 1]!, i, 2n ** 60n + BigInt(i), `m${i} ${'x'.repeat(i % 140)}`, `t${i}`, Uint8Array.of(i & 255, 1), -i);
  return captureBuffer(tb);
}

const base = validCapture();
// Plain Uint8Arrays (a Buffer's slice() would share memory with the original).
const validDat = new Uint8Array(toTraceDat(base));
const validRaw = base.cpus.find((c) => c.bytes.length > 4096 * 2)!.bytes.slice();

/** Runs every decoder over a trace.dat. */
function decodeDat(bytes: Uint8Array): void {
  const c = readTraceDat(bytes);
  toText(c);
  toChromeTrace(c);
}

/** Runs every decoder over a raw stream. */
function decodeRaw(bytes: Uint8Array): void {
  const c = readRaw(bytes, { formats: base.formats, clock: 'counter' });
  walkCapture(c, () => {});
  toText(c);
}

/** What a decode of damaged input may do: succeed, or EINVAL naming an offset. */
function outcome(fn: () => void): 'ok' | 'einval' | string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof TraceBufferError && err.code === 'EINVAL' && /offset=\d+/.test(err.message)) return 'einval';
    return `${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`;
  }
}

type Mutation = { name: string; apply: (b: Uint8Array, r: () => number) => Uint8Array };

const EXTREMES = [0, 3, 4, 0x7fffffff, 0xffffffff, 4080, 4081, 4096, 0x7ffffff];

const MUTATIONS: Mutation[] = [
  { name: 'bit flips', apply: (b, r) => { const c = b.slice(); for (let i = 0, n = 1 + Math.floor(r() * 8); i < n; i++) { const at = Math.floor(r() * c.length); c[at]! ^= 1 << Math.floor(r() * 8); } return c; } },
  { name: 'byte overwrites', apply: (b, r) => { const c = b.slice(); for (let i = 0, n = 1 + Math.floor(r() * 16); i < n; i++) c[Math.floor(r() * c.length)] = [0, 0xff, Math.floor(r() * 256)][Math.floor(r() * 3)]!; return c; } },
  { name: 'truncation', apply: (b, r) => b.slice(0, Math.floor(r() * b.length)) },
  {
    name: 'extreme u32 at a commit word',
    apply: (b, r) => {
      const c = b.slice();
      const pages = Math.floor(c.length / 4096);
      const start = c.length - pages * 4096; // the CPU data is at the end, page-aligned
      const at = start + Math.floor(r() * pages) * 4096 + layout.SUBBUF_COMMIT_OFFSET;
      if (at + 4 <= c.length) new DataView(c.buffer).setUint32(at, EXTREMES[Math.floor(r() * EXTREMES.length)]!, true);
      return c;
    },
  },
  {
    name: 'extreme u32 at an aligned word (event headers, length words, __data_loc)',
    apply: (b, r) => {
      const c = b.slice();
      const at = Math.floor((r() * (c.length - 4)) / 4) * 4;
      new DataView(c.buffer).setUint32(at, r() < 0.5 ? EXTREMES[Math.floor(r() * EXTREMES.length)]! : (Math.floor(r() * 32) | (Math.floor(r() * 1000) << 5)) >>> 0, true);
      return c;
    },
  },
];

describe(`decoders under fuzzing (seed ${SEED}, ${ITERATIONS} per kind; TRACEBUF_FUZZ_SEED replays)`, () => {
  it.for([
    ['trace.dat', validDat, decodeDat],
    ['raw stream', validRaw, decodeRaw],
  ] as const)('%s: mutations decode or throw EINVAL with an offset, nothing else', ([, valid, decode]) => {
    expect(outcome(() => decode(valid))).toBe('ok');
    const r = rng(SEED);
    const seen = { ok: 0, einval: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const m = MUTATIONS[i % MUTATIONS.length]!;
      const input = m.apply(valid, r);
      const started = performance.now();
      const result = outcome(() => decode(input));
      expect(result, `seed ${SEED} iteration ${i} mutation "${m.name}"`).toMatch(/^(ok|einval)$/);
      expect(performance.now() - started, `seed ${SEED} iteration ${i}: slow decode (a loop?)`).toBeLessThan(5000);
      seen[result as 'ok' | 'einval']++;
    }
    // Both outcomes happen: the mutations reach the checks, and some damage goes unnoticed
    // (a flipped payload byte is still a valid file).
    expect(seen.einval).toBeGreaterThan(0);
  });

  it.for(['trace.dat', 'raw stream'] as const)('%s: random bytes decode or throw EINVAL with an offset', (kind) => {
    const r = rng(SEED ^ 0x5bd1e995);
    for (let i = 0; i < ITERATIONS; i++) {
      const length = Math.floor(r() * 3) * 4096 + Math.floor(r() * 64);
      const input = new Uint8Array(length);
      for (let j = 0; j < length; j++) input[j] = Math.floor(r() * 256);
      // A valid magic now and then, so the trace.dat reader gets past its first check.
      if (kind === 'trace.dat' && (i & 1) === 0) input.set(validDat.subarray(0, Math.min(length, 10 + Math.floor(r() * 40))));
      const result = outcome(() => (kind === 'trace.dat' ? decodeDat(input) : decodeRaw(input)));
      expect(result, `seed ${SEED} iteration ${i}`).toMatch(/^(ok|einval)$/);
    }
  });
});

describe('each damage the issue names: EINVAL naming the offset', () => {
  const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const einval = (fn: () => void): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(TraceBufferError);
      expect((err as TraceBufferError).code).toBe('EINVAL');
      return (err as Error).message;
    }
    throw new Error('decoded without an error');
  };

  it('a sub-buffer whose commit length is beyond its size', () => {
    const raw = validRaw.slice();
    view(raw).setUint32(4096 + layout.SUBBUF_COMMIT_OFFSET, 5000, true);
    expect(einval(() => decodeRaw(raw))).toMatch(/commit length 5000 is beyond its data area \(4080 bytes\): offset=4104$/);
  });

  it('a length word (type_len 0) that points past the end', () => {
    const raw = validRaw.slice();
    // The first event of the first sub-buffer as a long event whose length runs past the commit.
    const commit = view(raw).getUint32(layout.SUBBUF_COMMIT_OFFSET, true) & layout.COMMIT_LENGTH_MASK;
    view(raw).setUint32(16, 0, true);
    view(raw).setUint32(20, commit + 100, true);
    expect(einval(() => decodeRaw(raw))).toMatch(/runs past the committed data: offset=16$/);
  });

  it('a truncated file: in the trace.dat header, in its CPU data, and a raw stream cut mid-sub-buffer', () => {
    expect(einval(() => decodeDat(validDat.subarray(0, 700)))).toMatch(/offset=\d+$/);
    expect(einval(() => decodeDat(validDat.subarray(0, validDat.length - 100)))).toMatch(/runs past the end of the file.*offset=\d+$/);
    expect(einval(() => decodeRaw(validRaw.subarray(0, validRaw.length - 1000)))).toMatch(new RegExp(`truncated: offset=${Math.floor((validRaw.length - 1000) / 4096) * 4096}$`));
  });

  it('an unknown event id', () => {
    const raw = validRaw.slice();
    // The first data event's payload: its common_type.
    const word = view(raw).getUint32(16, true);
    const payloadAt = 16 + ((word & 31) === 0 ? 8 : 4);
    view(raw).setUint16(payloadAt, 4242, true);
    expect(einval(() => decodeRaw(raw))).toBe(`EINVAL: unknown event id 4242: offset=${payloadAt}`);
  });
});

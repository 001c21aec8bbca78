/**
 * Property tests of the kernel event encoding (kernel-semantics §2): the writer's size arithmetic
 * (§2.3), decoding of every event type from hand-built sub-buffers (§2.2, §2.4, §2.5, §1.2),
 * timestamps through the real producer (including TIME_EXTEND), and payload round trips through
 * producer → GET_READER → SubbufReader.
 *
 * Expectations come from docs/kernel-semantics.md, restated below (`reference*` functions), not from
 * core. fast-check runs with a fixed seed; `TRACEBUF_SEED=<n>` picks another one. On failure
 * fast-check prints the seed and the counterexample path to replay.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LOST_EVENTS_UNKNOWN,
  SubbufReader,
  TRACE_MMAP_IOCTL_GET_READER,
  TraceBuffer,
  TraceBufferError,
  dataTypeLen,
  eventLength,
  payloadOffset,
} from '../src/index.js';
import type { Mapping } from '../src/index.js';
import { COUNTER_HALVES_INDEX, COUNTER_LO_INDEX } from '../src/layout.js';

const envSeed = process.env['TRACEBUF_SEED'];
const SEED = envSeed === undefined || envSeed === '' ? 0x7ace_b0f : Number(envSeed);
if (!Number.isSafeInteger(SEED)) throw new Error(`TRACEBUF_SEED must be an integer: ${envSeed}`);
const params = (numRuns: number): { seed: number; numRuns: number } => ({ seed: SEED, numRuns });

// ------------------------------------------------------------------------------------------------
// The reference rules, restated
// ------------------------------------------------------------------------------------------------

/** §1.1: bytes before the data area of a sub-buffer. */
const HEADER_LENGTH = 16;
/** §2.2: largest short-form payload. */
const SHORT_MAX = 112;
/** §2.4: a delta that does not fit 27 bits needs a TIME_EXTEND. */
const DELTA_LIMIT = 2 ** 27;
/** §2.2 type_len values. */
const PADDING = 29;
const TIME_EXTEND = 30;
const TIME_STAMP = 31;
/** §1.2 commit flags. */
const MISSED_EVENTS = 0x8000_0000;
const MISSED_STORED = 0x4000_0000;

/** §2.3 steps 1–5. */
function referenceEventLength(payload: number): number {
  let length = payload === 0 ? 1 : payload;
  if (length > SHORT_MAX) length += 4;
  length += 4;
  length = Math.ceil(length / 4) * 4;
  return length === 12 ? 16 : length;
}

/** §2.3 header encoding: `type_len` of a data event of total size `total` (0 = long form). */
function referenceTypeLen(total: number): number {
  const data = total - 4;
  return data > SHORT_MAX ? 0 : Math.ceil(data / 4);
}

/** §2.2: payload offset in the event (4 short form, 8 long form) and capacity. */
function referencePayload(total: number): { offset: number; capacity: number } {
  return referenceTypeLen(total) === 0 ? { offset: 8, capacity: total - 8 } : { offset: 4, capacity: total - 4 };
}

/** A header word: `type_len` in bits 0..4, `time_delta` in bits 5..31 (§2.1). */
function headerWord(typeLen: number, delta: number): number {
  return (typeLen | (delta << 5)) >>> 0;
}

// ------------------------------------------------------------------------------------------------
// (a) size arithmetic
// ------------------------------------------------------------------------------------------------

describe('event size arithmetic follows the kernel (kernel-semantics §2.3)', () => {
  function checkLength(payload: number, subbufSize: number): void {
    const total = eventLength(payload);
    expect(total, `eventLength(${payload})`).toBe(referenceEventLength(payload));
    expect(total % 4).toBe(0);
    expect(total).toBeGreaterThanOrEqual(8);
    expect(total).not.toBe(12);
    expect(total).toBeLessThanOrEqual(subbufSize - HEADER_LENGTH);
    expect(dataTypeLen(total), `dataTypeLen(${total})`).toBe(referenceTypeLen(total));
    const { offset, capacity } = referencePayload(total);
    expect(payloadOffset(total), `payloadOffset(${total})`).toBe(offset);
    expect(capacity).toBeGreaterThanOrEqual(payload);
  }

  it('holds for any payload length 0..subbufSize−24 and any sub-buffer size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 20 }).chain((shift) => fc.tuple(fc.constant(2 ** shift), fc.integer({ min: 0, max: 2 ** shift - 24 }))),
        ([subbufSize, payload]) => checkLength(payload, subbufSize),
      ),
      params(2000),
    );
  });

  it('holds for every payload length of a 4 KiB sub-buffer, and the largest fills the data area', () => {
    for (let payload = 0; payload <= 4096 - 24; payload++) checkLength(payload, 4096);
    expect(eventLength(4072)).toBe(4080);
  });

  it('matches the worked table of §2.3 and the 0 and 12→16 rules', () => {
    // [payload, total, type_len, array[0] (long form only)]
    const table: readonly (readonly [number, number, number, number?])[] = [
      [0, 8, 1],
      [1, 8, 1],
      [4, 8, 1],
      [5, 16, 3],
      [8, 16, 3],
      [9, 16, 3],
      [12, 16, 3],
      [16, 20, 4],
      [21, 28, 6],
      [22, 28, 6],
      [25, 32, 7],
      [108, 112, 27],
      [109, 116, 28],
      [112, 116, 28],
      [113, 124, 0, 120],
      [116, 124, 0, 120],
      [117, 128, 0, 124],
      [208, 216, 0, 212],
      [4068, 4076, 0, 4072],
      [4072, 4080, 0, 4076],
    ];
    for (const [payload, total, typeLen, array0] of table) {
      expect(eventLength(payload), `eventLength(${payload})`).toBe(total);
      expect(dataTypeLen(total), `dataTypeLen(${total})`).toBe(typeLen);
      expect(payloadOffset(total), `payloadOffset(${total})`).toBe(typeLen === 0 ? 8 : 4);
      if (array0 !== undefined) expect(total - 4).toBe(array0);
    }
  });

  it('the producer takes payloads up to subbufSize−24 and refuses one byte more with EINVAL', () => {
    for (const subbufSize of [4096, 8192]) {
      const tb = TraceBuffer.create({ cpus: 1, subbufSize, nrSubbufs: 3, clock: 'counter' });
      const p = tb.producer(0);
      const m = tb.map(0);
      try {
        expect(p.maxPayload).toBe(subbufSize - 24);
        let error: unknown;
        try {
          p.write(new Uint8Array(subbufSize - 23));
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(TraceBufferError);
        expect((error as TraceBufferError).code).toBe('EINVAL');
        expect(tb.stats(0).committed).toBe(0);
        // The largest payload fills a data area exactly: no padding, commit = data size.
        expect(p.write(new Uint8Array(subbufSize - 24))).toBe(true);
        expect(tb.stats(0).bytes).toBe(subbufSize - HEADER_LENGTH);
        m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
        expect(m.meta.reader.read).toBe(subbufSize - HEADER_LENGTH);
        expect(m.meta.read).toBe(1);
      } finally {
        p.release();
        m.unmap();
      }
    }
  });
});

// ------------------------------------------------------------------------------------------------
// (b) decoding hand-built sub-buffers
// ------------------------------------------------------------------------------------------------

type Item =
  | { readonly kind: 'data'; readonly delta: number; readonly payload: Uint8Array }
  | { readonly kind: 'extend'; readonly value: number }
  | { readonly kind: 'stamp'; readonly advance: number }
  | { readonly kind: 'discard'; readonly delta: number; readonly words: number };

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      delta: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: DELTA_LIMIT - 1 })),
      payload: fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 130 }), fc.uint8Array({ maxLength: 700 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('extend' as const), value: fc.integer({ min: 0, max: 2 ** 44 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stamp' as const), advance: fc.integer({ min: 0, max: 2 ** 40 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('discard' as const),
      delta: fc.integer({ min: 1, max: DELTA_LIMIT - 1 }),
      words: fc.integer({ min: 1, max: 40 }),
    }),
  },
);

type Ending = 'none' | 'null-padding' | 'junk' | 'missed-unknown' | 'missed-stored';

interface Expected {
  readonly timestamp: number;
  readonly payload: Uint8Array;
  readonly total: number;
  /** Data offset of the first byte after this event. */
  readonly end: number;
}

interface BuiltSubbuf {
  readonly bytes: Uint8Array;
  readonly at: number;
  readonly commit: number;
  readonly events: readonly Expected[];
  readonly lost: number;
}

/**
 * Writes `items` in the kernel format into a sub-buffer at byte `at` of a fresh array, as far as
 * they fit, and returns what a reader must find there. Timestamps follow §2.4: the page stamp,
 * then TIME_EXTEND adds, TIME_STAMP sets, a data event adds its delta; padding deltas are ignored.
 */
function buildSubbuf(subbufSize: number, at: number, stamp: number, items: readonly Item[], ending: Ending, lostCount: number): BuiltSubbuf {
  const dataSize = subbufSize - HEADER_LENGTH;
  const bytes = new Uint8Array(at + subbufSize + 16).fill(0xa5);
  const v = new DataView(bytes.buffer);
  const data = at + HEADER_LENGTH;
  v.setUint32(at, stamp % 2 ** 32, true);
  v.setUint32(at + 4, Math.floor(stamp / 2 ** 32), true);
  const events: Expected[] = [];
  let ts = stamp;
  let used = 0;
  for (const item of items) {
    if (item.kind === 'data') {
      const total = referenceEventLength(item.payload.length);
      if (used + total > dataSize) break;
      const typeLen = referenceTypeLen(total);
      v.setUint32(data + used, headerWord(typeLen, item.delta), true);
      if (typeLen === 0) v.setUint32(data + used + 4, total - 4, true);
      bytes.set(item.payload, data + used + referencePayload(total).offset);
      ts += item.delta;
      used += total;
      events.push({ timestamp: ts, payload: item.payload, total, end: used });
    } else if (item.kind === 'extend' || item.kind === 'stamp') {
      if (used + 8 > dataSize) break;
      const value = item.kind === 'extend' ? item.value : ts + item.advance;
      v.setUint32(data + used, headerWord(item.kind === 'extend' ? TIME_EXTEND : TIME_STAMP, value % DELTA_LIMIT), true);
      v.setUint32(data + used + 4, Math.floor(value / DELTA_LIMIT), true);
      ts = item.kind === 'extend' ? ts + value : value;
      used += 8;
    } else {
      const total = 4 + 4 * item.words;
      if (used + total > dataSize) break;
      v.setUint32(data + used, headerWord(PADDING, item.delta), true);
      v.setUint32(data + used + 4, total - 4, true);
      used += total;
    }
  }
  let commitLow = used;
  let commitHigh = 0;
  let lost = 0;
  const room = dataSize - used;
  if (ending === 'null-padding' && room >= 4) {
    v.setUint32(data + used, headerWord(PADDING, 0), true);
  } else if (ending === 'missed-unknown' || (ending === 'missed-stored' && room < 8)) {
    commitLow |= MISSED_EVENTS;
    commitHigh = 0xffff_ffff;
    lost = LOST_EVENTS_UNKNOWN;
  } else if (ending === 'missed-stored') {
    v.setUint32(data + used, lostCount % 2 ** 32, true);
    v.setUint32(data + used + 4, Math.floor(lostCount / 2 ** 32), true);
    commitLow |= MISSED_EVENTS | MISSED_STORED;
    commitHigh = 0xffff_ffff;
    lost = lostCount;
  }
  // 'junk' (and every other ending) leaves the 0xa5 fill after the commit: the reader must stop.
  v.setUint32(at + 8, commitLow >>> 0, true);
  v.setUint32(at + 12, commitHigh, true);
  return { bytes, at, commit: used, events, lost };
}

function expectEvents(r: SubbufReader, events: readonly Expected[], what: string): void {
  let i = 0;
  while (r.next()) {
    const want = events[i];
    if (want === undefined) throw new Error(`${what}: more events than the ${events.length} written`);
    expect(r.timestamp, `${what}: event ${i} timestamp`).toBe(want.timestamp);
    expect(r.eventLength, `${what}: event ${i} length`).toBe(want.total);
    expect(r.typeLen, `${what}: event ${i} type_len`).toBe(referenceTypeLen(want.total));
    expect(r.payloadLength, `${what}: event ${i} capacity`).toBe(referencePayload(want.total).capacity);
    expect(r.eventOffset + r.eventLength, `${what}: event ${i} end`).toBe(want.end);
    expect(r.bytes.subarray(r.payloadOffset, r.payloadOffset + want.payload.length), `${what}: event ${i} payload`).toEqual(want.payload);
    i++;
  }
  expect(r.corrupt, `${what}: corrupt`).toBe(false);
  expect(i, `${what}: events decoded`).toBe(events.length);
}

describe('SubbufReader decodes every kernel event type (hand-built sub-buffers)', () => {
  it('reconstructs timestamps, payloads, padding skips and missed-events flags exactly', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4096, 8192),
        fc.integer({ min: 0, max: 48 }),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.array(itemArb, { maxLength: 120 }),
        fc.constantFrom<Ending>('none', 'null-padding', 'junk', 'missed-unknown', 'missed-stored'),
        fc.integer({ min: 1, max: 2 ** 52 }),
        fc.nat(),
        fc.nat(),
        (subbufSize, at, stamp, items, ending, lostCount, fromPick, toPick) => {
          const built = buildSubbuf(subbufSize, at, stamp, items, ending, lostCount);
          const r = new SubbufReader().load(built.bytes, built.at);
          expect(r.pageTimeStamp).toBe(stamp);
          expect(r.commitLength).toBe(built.commit);
          expect(r.missedEvents).toBe(built.lost !== 0);
          expect(r.lostEvents).toBe(built.lost);
          expectEvents(r, built.events, 'whole sub-buffer');
          expect(r.position).toBe(built.commit);

          // Resuming at an event boundary (GET_READER's reader.read) and stopping at another.
          const n = built.events.length;
          const k = n === 0 ? 0 : fromPick % (n + 1);
          const j = k + (n === k ? 0 : toPick % (n - k + 1));
          const from = k === 0 ? 0 : built.events[k - 1]!.end;
          const to = j === 0 ? 0 : built.events[j - 1]!.end;
          r.load(built.bytes, built.at, from, j === n ? -1 : to);
          expectEvents(r, built.events.slice(k, j), `events ${k}..${j}`);
        },
      ),
      params(400),
    );
  });

  it('applies a TIME_EXTEND as (array[0] << 27) + time_delta to the event after it', () => {
    // The 200 ms gap of kernel-semantics §10 item 5: array[0] = 1, time_delta = 65,912,698.
    const built = buildSubbuf(
      4096,
      0,
      1000,
      [
        { kind: 'data', delta: 0, payload: new Uint8Array([1, 2, 3, 4]) },
        { kind: 'extend', value: 200_130_426 },
        { kind: 'data', delta: 0, payload: new Uint8Array([5, 6, 7, 8]) },
      ],
      'none',
      0,
    );
    const word = new DataView(built.bytes.buffer).getUint32(HEADER_LENGTH + 8, true);
    expect(word & 0x1f).toBe(TIME_EXTEND);
    expect(word >>> 5).toBe(65_912_698);
    expect(new DataView(built.bytes.buffer).getUint32(HEADER_LENGTH + 12, true)).toBe(1);
    const r = new SubbufReader().load(built.bytes, 0);
    expect(r.next()).toBe(true);
    expect(r.timestamp).toBe(1000);
    expect(r.next()).toBe(true);
    expect(r.timestamp).toBe(1000 + 200_130_426);
    expect(r.next()).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------
// Reading a real buffer
// ------------------------------------------------------------------------------------------------

interface Decoded {
  readonly id: number;
  readonly timestamp: number;
  readonly typeLen: number;
  readonly eventOffset: number;
  readonly eventLength: number;
  readonly capacity: number;
  readonly payload: Uint8Array;
}

/** A consumer following kernel-semantics §5.6: GET_READER, then decode what it handed out. */
class Consumer {
  readonly events: Decoded[] = [];
  readonly #m: Mapping;
  readonly #r = new SubbufReader();
  #id: number;
  #read: number;

  constructor(m: Mapping) {
    this.#m = m;
    this.#id = m.meta.reader.id;
    this.#read = m.meta.reader.read;
  }

  /** One GET_READER; returns the number of events it handed out. */
  take(): number {
    const m = this.#m;
    expect(m.ioctl(TRACE_MMAP_IOCTL_GET_READER)).toBe(0);
    const { id, read } = m.meta.reader;
    const from = id === this.#id ? this.#read : 0;
    const r = this.#r.load(m.bytes, m.subbufOffset(id), from, read);
    let count = 0;
    while (r.next()) {
      this.events.push({
        id,
        timestamp: r.timestamp,
        typeLen: r.typeLen,
        eventOffset: r.eventOffset,
        eventLength: r.eventLength,
        capacity: r.payloadLength,
        payload: r.bytes.slice(r.payloadOffset, r.payloadOffset + r.payloadLength),
      });
      count++;
    }
    expect(r.corrupt).toBe(false);
    this.#id = id;
    this.#read = read;
    return count;
  }

  /** GET_READER until a call hands out nothing and nothing is unread. */
  drain(tb: TraceBuffer): void {
    for (let round = 0; round < 10_000; round++) {
      if (this.take() === 0 && tb.stats(this.#m.cpu).entries === 0) return;
    }
    throw new Error('drain did not finish');
  }
}

/** Sets the buffer's `counter` clock so that the next event gets `value + 1`. */
function setCounterClock(tb: TraceBuffer, value: number): void {
  const global = new Int32Array(tb.handle.global);
  Atomics.store(global, COUNTER_HALVES_INDEX, Math.floor(value / 2 ** 31) | 0);
  Atomics.store(global, COUNTER_LO_INDEX, value % 2 ** 32 | 0);
}

function expectPayload(event: Decoded, payload: Uint8Array, what: string): void {
  const total = referenceEventLength(payload.length);
  expect(event.eventLength, `${what}: length`).toBe(total);
  expect(event.typeLen, `${what}: type_len`).toBe(referenceTypeLen(total));
  expect(event.capacity, `${what}: capacity (payload padded as the kernel does)`).toBe(referencePayload(total).capacity);
  expect(event.payload.subarray(0, payload.length), `${what}: payload`).toEqual(payload);
}

describe('timestamps written by the producer decode exactly (counter clock with gaps)', () => {
  type Gap = { readonly kind: 'none' } | { readonly kind: 'other-cpu'; readonly events: number } | { readonly kind: 'jump'; readonly ticks: number };
  const gapArb: fc.Arbitrary<Gap> = fc.oneof(
    { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('other-cpu' as const), events: fc.integer({ min: 1, max: 5 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('jump' as const),
        ticks: fc.oneof(fc.integer({ min: DELTA_LIMIT - 3, max: DELTA_LIMIT + 3 }), fc.integer({ min: 1, max: 2 ** 40 })),
      }),
    },
  );

  it('gives every event its clock value; a gap of 2^27 or more costs exactly one 8-byte TIME_EXTEND', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4096, 8192),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), gapArb), { minLength: 1, maxLength: 80 }),
        (subbufSize, steps) => {
          const tb = TraceBuffer.create({ cpus: 2, subbufSize, nrSubbufs: 8, overwrite: false, clock: 'counter' });
          const p = tb.producer(0);
          const other = tb.producer(1);
          const m = tb.map(0);
          const consumer = new Consumer(m);
          try {
            const expected: { timestamp: number; payload: Uint8Array }[] = [];
            let clock = tb.now();
            for (const [i, [length, gap]] of steps.entries()) {
              if (gap.kind === 'other-cpu') {
                for (let e = 0; e < gap.events; e++) expect(other.write(new Uint8Array(4))).toBe(true);
                clock += gap.events;
              } else if (gap.kind === 'jump') {
                clock += gap.ticks;
                setCounterClock(tb, clock);
              }
              const payload = new Uint8Array(length).map((_, b) => (i * 13 + b) & 0xff);
              expect(p.write(payload)).toBe(true);
              clock += 1;
              expected.push({ timestamp: clock, payload });
              consumer.take();
            }
            consumer.drain(tb);
            expect(consumer.events.length).toBe(expected.length);
            for (const [i, e] of consumer.events.entries()) {
              const want = expected[i]!;
              expect(e.timestamp, `event ${i} timestamp`).toBe(want.timestamp);
              expectPayload(e, want.payload, `event ${i}`);
              const prev = consumer.events[i - 1];
              if (prev !== undefined && prev.id === e.id && e.eventOffset !== 0) {
                // Same sub-buffer: the event starts right after the previous one, plus an
                // 8-byte TIME_EXTEND exactly when the delta does not fit 27 bits (§2.4).
                const extend = e.timestamp - prev.timestamp >= DELTA_LIMIT ? 8 : 0;
                expect(e.eventOffset, `event ${i} offset`).toBe(prev.eventOffset + prev.eventLength + extend);
              }
            }
          } finally {
            p.release();
            other.release();
            m.unmap();
          }
        },
      ),
      params(120),
    );
  });
});

// ------------------------------------------------------------------------------------------------
// (c) payload round trip through the real buffer
// ------------------------------------------------------------------------------------------------

describe('payloads round-trip through producer, GET_READER and SubbufReader', () => {
  it('reads back every payload, in order, padded to 4 bytes as the kernel does', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4096, 8192),
        fc.integer({ min: 3, max: 8 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 12 }),
        fc.array(
          fc.tuple(
            fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ minLength: 100, maxLength: 130 }), fc.uint8Array({ maxLength: 1000 }), fc.uint8Array({ minLength: 4000, maxLength: 4072 })),
            fc.boolean(),
          ),
          { maxLength: 60 },
        ),
        (subbufSize, nrSubbufs, overwrite, readEvery, writes) => {
          // Draining every `readEvery` writes, each filling at most one more sub-buffer, keeps
          // every event: the ring has room for `readEvery + 1` sub-buffers.
          const tb = TraceBuffer.create({ cpus: 1, subbufSize, nrSubbufs: nrSubbufs + readEvery, overwrite, clock: 'counter' });
          const p = tb.producer(0);
          const m = tb.map(0);
          const consumer = new Consumer(m);
          try {
            for (const [i, [payload, zeroCopy]] of writes.entries()) {
              if (zeroCopy) {
                const r = p.reserve(payload.length);
                if (r === null) throw new Error(`reserve(${payload.length}) refused`);
                r.bytes.set(payload, r.offset);
                expect(p.commit()).toBe(true);
              } else {
                expect(p.write(payload)).toBe(true);
              }
              if ((i + 1) % readEvery === 0) consumer.drain(tb);
            }
            consumer.drain(tb);
            const s = tb.stats(0);
            expect(s.overrun + s.droppedEvents).toBe(0);
            expect(consumer.events.length).toBe(writes.length);
            let lastTs = 0;
            for (const [i, e] of consumer.events.entries()) {
              expectPayload(e, writes[i]![0], `event ${i}`);
              // The counter clock is a sequence: one producer, one tick per event.
              expect(e.timestamp, `event ${i} timestamp`).toBe(lastTs + 1);
              lastTs = e.timestamp;
            }
          } finally {
            p.release();
            m.unmap();
          }
        },
      ),
      params(200),
    );
  });
});

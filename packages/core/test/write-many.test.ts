/**
 * `producer.writeMany(records, recordLength, count?)` (issue 8): many events of one length in
 * one call, published once per sub-buffer they land on. Each is an event of its own for every
 * reader, stamped per event; the call returns how many were committed.
 */
import { Worker } from 'node:worker_threads';
import { SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { payloadSeq, seqPayload } from './support/drain.js';
import { codeOf } from './support/errors.js';
import { checkEvent } from './support/events.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

/** `count` records of `length` bytes carrying seq first..first+count-1 (seqPayload's layout). */
function records(length: number, first: number, count: number): Uint8Array {
  const out = new Uint8Array(length * count);
  for (let i = 0; i < count; i++) out.set(seqPayload(length, first + i), i * length);
  return out;
}

function drained(tb: TraceBuffer): { seqs: number[]; timestamps: number[]; lengths: number[] } {
  const seqs: number[] = [];
  const timestamps: number[] = [];
  const lengths: number[] = [];
  tb.drainTo((_cpu, ts, payload) => {
    seqs.push(payloadSeq(payload, 0));
    timestamps.push(ts);
    lengths.push(payload.length);
    expect(payload).toEqual(seqPayload(payload.length, payloadSeq(payload, 0)));
  });
  return { seqs, timestamps, lengths };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('producer.writeMany()', () => {
  it.each(['counter', 'mono', 'local'] as const)('clock %s: writes every record as its own event, across sub-buffers, in order, stamps never going back', (clock) => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 64, overwrite: false, clock });
    const p = tb.producer(0);
    // 40-byte records: 48-byte events, 85 per sub-buffer: 1000 of them cross 11 sub-buffers.
    expect(p.writeMany(records(40, 1, 600), 40)).toBe(600);
    expect(p.write(seqPayload(40, 601))).toBe(true);
    expect(p.writeMany(records(40, 602, 399), 40, 399)).toBe(399);
    const { seqs, timestamps, lengths } = drained(tb);
    expect(seqs).toEqual(range(1, 1000));
    expect(new Set(lengths)).toEqual(new Set([40]));
    for (let i = 1; i < timestamps.length; i++) expect(timestamps[i]).toBeGreaterThanOrEqual(timestamps[i - 1]!);
    if (clock === 'counter') {
      // One block of consecutive counter values per call.
      expect(timestamps.slice(0, 600)).toEqual(range(timestamps[0]!, timestamps[0]! + 599));
    }
    expect(tb.stats(0)).toMatchObject({ committed: 1000, readEvents: 1000, entries: 0, droppedEvents: 0 });
  });

  it('takes count records from the front, and a zero-length record is an event too', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8 });
    const p = tb.producer(0);
    expect(p.writeMany(records(16, 1, 10), 16, 3)).toBe(3);
    expect(p.writeMany(new Uint8Array(0), 0, 0)).toBe(0);
    expect(drained(tb).seqs).toEqual([1, 2, 3]);
    expect(p.writeMany(new Uint8Array(5), 0)).toBe(0); // no whole record of length 0 is "held"
  });

  it('copies records at any alignment and of any length (words when aligned, bytes otherwise)', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 16 });
    const p = tb.producer(0);
    const odd = new Uint8Array(1 + 15 * 20);
    odd.set(records(15, 1, 20), 1);
    expect(p.writeMany(odd.subarray(1), 15)).toBe(20);
    const aligned = records(16, 21, 20);
    expect(p.writeMany(aligned.subarray(16 * 5), 16)).toBe(15); // from record 5 of the same buffer
    // Exactly what one write() per record leaves (a 15-byte payload reads back padded to 16,
    // as the format's lengths are whole words).
    const ref = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 16 });
    const rp = ref.producer(0);
    for (let i = 0; i < 20; i++) rp.write(odd.subarray(1 + 15 * i, 16 + 15 * i));
    for (let i = 5; i < 20; i++) rp.write(aligned.subarray(16 * i, 16 * i + 16));
    const got: number[][] = [];
    const want: number[][] = [];
    tb.drainTo((_c, _ts, payload) => got.push([...payload]));
    ref.drainTo((_c, _ts, payload) => want.push([...payload]));
    expect(got.length).toBe(35);
    expect(got).toEqual(want);
  });

  it('in producer/consumer mode returns how many fit when the ring fills; the rest can be retried', () => {
    const options = { cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: false, clock: 'counter' } as const;
    // As many as one write() per event gets in.
    const ref = TraceBuffer.create(options).producer(0);
    let fit = 0;
    while (ref.write(seqPayload(40, fit + 1))) fit++;
    const tb = TraceBuffer.create(options);
    const p = tb.producer(0);
    const all = records(40, 1, 400);
    const first = p.writeMany(all, 40);
    expect(fit).toBeLessThan(400);
    expect(first).toBe(fit);
    expect(tb.stats(0).droppedEvents).toBe(1);
    const seen = drained(tb).seqs;
    expect(seen).toEqual(range(1, fit));
    expect(p.writeMany(all.subarray(first * 40), 40)).toBe(400 - fit);
    expect(drained(tb).seqs).toEqual(range(fit + 1, 400));
  });

  it('writes nothing while recording is off', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    tb.setRecording(false);
    expect(p.writeMany(records(16, 1, 10), 16)).toBe(0);
    tb.setRecording(true);
    expect(p.writeMany(records(16, 1, 10), 16)).toBe(10);
    expect(drained(tb).seqs).toEqual(range(1, 10));
  });

  it('refuses bad arguments with EINVAL (EBUSY with a reservation open) and writes nothing', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    const rec = records(16, 1, 4);
    expect(codeOf(() => p.writeMany(rec, p.maxPayload + 1))).toBe('EINVAL');
    expect(() => p.writeMany(rec, 1.5)).toThrow(/recordLength/);
    expect(() => p.writeMany(rec, 16, 5)).toThrow(/count must be an integer 0\.\.4.*count=5/);
    expect(codeOf(() => p.writeMany(rec, 16, -1))).toBe('EINVAL');
    expect(codeOf(() => p.writeMany([1, 2, 3] as unknown as Uint8Array, 1))).toBe('EINVAL');
    p.reserve(8);
    expect(codeOf(() => p.writeMany(rec, 16))).toBe('EBUSY');
    p.discard();
    expect(tb.stats(0).committed).toBe(0);
    p.release();
    expect(codeOf(() => p.writeMany(rec, 16))).toBe('EINVAL');
  });

  it('from a worker, while the main thread reads with GET_READER: every event once, whole and in order', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 16, overwrite: false, clock: 'counter' });
    const count = 50_000;
    const w = new Worker(new URL('./fixtures/many-producer-worker.mjs', import.meta.url), {
      workerData: { handle: tb.handle, cpu: 0, count, length: 24, batch: 64 },
    });
    workers.add(w);
    let finished = false;
    const done = new Promise<{ calls: number; refused: number }>((resolve, reject) => {
      w.once('message', (m: { calls: number; refused: number }) => {
        finished = true;
        resolve(m);
      });
      w.once('error', reject);
    });
    const m = tb.map(0);
    const reader = new SubbufReader();
    let last = { id: m.meta.reader.id, read: m.meta.reader.read };
    let next = 1;
    const take = (): void => {
      for (;;) {
        m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
        const { id, read } = m.meta.reader;
        if (id === last.id && read === last.read) return;
        reader.load(m.bytes, m.subbufOffset(id), id === last.id ? last.read : 0, read);
        while (reader.next()) {
          const e = checkEvent(m.bytes, reader.payloadOffset, reader.payloadLength);
          expect(e.seq).toBe(next);
          next++;
        }
        last = { id, read };
      }
    };
    while (!finished) {
      take();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await done;
    take();
    m.unmap();
    expect(next - 1).toBe(count);
    expect(tb.stats(0)).toMatchObject({ committed: count, readEvents: count, entries: 0 });
  });
});

/**
 * Snapshots (issue 4, kernel-semantics §5.7): `tb.snapshot()` swaps every CPU buffer with a prepared
 * spare, so recording goes on at once into empty rings while the snapshot keeps everything that
 * was there, readable at leisure with the same API; `armSnapshot()` prepares the spare so a
 * producer thread can take the snapshot on a condition; a later snapshot reuses the spare's
 * memory (the older snapshot is then ESTALE).
 */
import { Worker } from 'node:worker_threads';
import { SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, type TraceBufferHandle } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';
import { codeOf } from './support/errors.js';
import { checkEvent } from './support/events.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

const seqOf = (payload: Uint8Array): number => new DataView(payload.buffer, payload.byteOffset).getUint32(8, true);

function drainSeqs(tb: TraceBuffer): number[][] {
  const out: number[][] = Array.from({ length: tb.cpus }, () => []);
  tb.drainTo((cpu, _ts, payload) => out[cpu]!.push(seqOf(payload)));
  return out;
}

describe('tb.snapshot()', () => {
  it('keeps what was recorded; recording goes on in empty rings', () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 8, overwrite: false, clock: 'counter' });
    const producers = [tb.producer(0), tb.producer(1)];
    for (let seq = 1; seq <= 300; seq++) producers[seq % 2]!.write(seqPayload(40, seq));
    const before = [tb.stats(0), tb.stats(1)];
    const s = tb.snapshot();
    expect(s.isSnapshot).toBe(true);
    // The live rings are empty; the producers go on writing (they pick up the new rings).
    expect([tb.stats(0).entries, tb.stats(1).entries]).toEqual([0, 0]);
    for (let seq = 301; seq <= 400; seq++) expect(producers[seq % 2]!.write(seqPayload(40, seq))).toBe(true);
    // The snapshot has exactly the events of before, with the same counters.
    expect(s.stats(0).entries).toBe(before[0]!.entries);
    expect(s.stats(1).committed).toBe(before[1]!.committed);
    const merged = [...s.iterate()].map((e) => seqOf(e.payload));
    expect(merged).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const snap = drainSeqs(s);
    expect(snap[0]).toEqual(Array.from({ length: 150 }, (_, i) => 2 * (i + 1)));
    expect(snap[1]).toEqual(Array.from({ length: 150 }, (_, i) => 2 * i + 1));
    const live = drainSeqs(tb);
    expect(live[0]![0]).toBe(302);
    expect(live.flat().length).toBe(100);
  });

  it('can be mapped and read with GET_READER like the live buffer', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 20; seq++) p.write(seqPayload(32, seq));
    const s = tb.snapshot();
    const m = s.map(0);
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.entries).toBe(20);
    const r = new SubbufReader().load(m.bytes, m.subbufOffset(m.meta.reader.id), 0, m.meta.reader.read);
    let n = 0;
    while (r.next()) expect(seqOf(m.bytes.subarray(r.payloadOffset))).toBe(++n);
    expect(n).toBe(20);
  });

  it('streams its raw sub-buffers like trace_pipe_raw (the kernel format every exporter reads)', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, clock: 'counter' });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 100; seq++) p.write(seqPayload(40, seq));
    const s = tb.snapshot();
    const parts: Buffer[] = [];
    for await (const chunk of s.rawStream(0, { untilEmpty: true })) parts.push(chunk as Buffer);
    const all = Buffer.concat(parts);
    expect(all.length % 4096).toBe(0);
    const r = new SubbufReader();
    const seqs: number[] = [];
    for (let at = 0; at < all.length; at += 4096) {
      r.load(new Uint8Array(all.buffer, all.byteOffset + at, 4096));
      while (r.next()) seqs.push(seqOf(r.bytes.subarray(r.payloadOffset)));
    }
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('goes stale when a later snapshot reuses its memory', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    p.write(seqPayload(32, 1));
    const first = tb.snapshot();
    expect(first.stats(0).entries).toBe(1);
    p.write(seqPayload(32, 2));
    const second = tb.snapshot();
    expect(drainSeqs(second)[0]).toEqual([2]);
    p.write(seqPayload(32, 3));
    tb.snapshot();
    expect(codeOf(() => first.stats(0))).toBe('ESTALE');
    expect(codeOf(() => first.map(0))).toBe('ESTALE');
  });

  it('armed, lets a producer thread take it on a condition; the snapshot crosses threads by its handle', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8, overwrite: true });
    tb.armSnapshot();
    const w = new Worker(new URL('./fixtures/snapshot-trigger.mjs', import.meta.url), {
      workerData: { handle: tb.handle, cpu: 0, trigger: 5000, after: 700 },
    });
    workers.add(w);
    let snapshotHandle: TraceBufferHandle | undefined;
    await new Promise<void>((resolve, reject) => {
      w.on('message', (msg: { snapshot?: TraceBufferHandle; done?: boolean }) => {
        if (msg.snapshot !== undefined) snapshotHandle = msg.snapshot;
        if (msg.done === true) resolve();
      });
      w.once('error', reject);
    });
    const s = TraceBuffer.attach(snapshotHandle!);
    const snap = drainSeqs(s)[0]!;
    // Overwrite mode keeps the newest events: the snapshot ends exactly at the trigger.
    expect(snap.at(-1)).toBe(5000);
    for (let i = 1; i < snap.length; i++) expect(snap[i]).toBe(snap[i - 1]! + 1);
    expect(snap.length + s.stats(0).overrun).toBe(5000);
    const live = drainSeqs(tb)[0]!;
    expect(live[0]).toBe(5001);
    expect(live.at(-1)).toBe(5700);
    tb.disarmSnapshot();
  });

  it('under stress: snapshots while producer workers write lose nothing and corrupt nothing', async () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 64, overwrite: false });
    const count = 30_000;
    const done = [0, 1].map((cpu) => {
      const w = new Worker(new URL('./fixtures/producer-worker.mjs', import.meta.url), {
        workerData: { handle: tb.handle, cpu, count, minLength: 16, maxLength: 80, retryWhenFull: false },
      });
      workers.add(w);
      return new Promise<{ written: number; dropped: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    });
    let finished = false;
    void Promise.all(done).then(() => (finished = true));
    const seen = [new Set<number>(), new Set<number>()];
    const last = [0, 0];
    const collect = (b: TraceBuffer): void => {
      const perCpuLast = [0, 0];
      b.drainTo((cpu, _ts, payload) => {
        const e = checkEvent(payload, 0, payload.length);
        expect(e.cpu).toBe(cpu);
        expect(e.seq).toBeGreaterThan(perCpuLast[cpu]!);
        expect(e.seq).toBeGreaterThan(last[cpu]!);
        perCpuLast[cpu] = e.seq;
        seen[cpu]!.add(e.seq);
      });
      for (const cpu of [0, 1]) last[cpu] = Math.max(last[cpu]!, perCpuLast[cpu]!);
    };
    let snapshots = 0;
    while (!finished) {
      collect(tb.snapshot());
      snapshots++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    collect(tb.snapshot());
    collect(tb);
    const results = await Promise.all(done);
    for (const cpu of [0, 1]) expect(seen[cpu]!.size).toBe(results[cpu]!.written);
    expect(snapshots).toBeGreaterThan(1);
  });
});

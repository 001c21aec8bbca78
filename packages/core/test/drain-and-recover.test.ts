/**
 * Nothing committed is lost: `drainTo()` hands every committed event to a sink synchronously,
 * also from `process.on('exit')`; `recover()` takes back the slot of a producer whose thread
 * died mid-write, keeping the ring consistent and the half-written event invisible.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, layout } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';
import { codeOf } from './support/errors.js';
import { checkEvent } from './support/events.js';
import { startEndlessProducer } from './support/endless.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

describe('drainTo', () => {
  it('hands over every committed event of every cpu, in order, and consumes them', () => {
    const tb = TraceBuffer.create({ cpus: 3, subbufSize: 4096, nrSubbufs: 16, overwrite: false });
    const written = [0, 0, 0];
    for (let cpu = 0; cpu < 3; cpu++) {
      const p = tb.producer(cpu);
      for (let seq = 1; seq <= 100 * (cpu + 1); seq++) if (p.write(seqPayload(20 + (seq % 50), seq))) written[cpu]!++;
    }
    const seen: number[][] = [[], [], []];
    const count = tb.drainTo((cpu, _ts, payload) => seen[cpu]!.push(new DataView(payload.buffer, payload.byteOffset).getUint32(8, true)));
    expect(count).toBe(600);
    for (let cpu = 0; cpu < 3; cpu++) expect(seen[cpu]).toEqual(Array.from({ length: written[cpu]! }, (_, i) => i + 1));
    expect(tb.drainTo(() => undefined)).toBe(0);
    expect(tb.stats(2).entries).toBe(0);
  });

  it('reports lost events to the sink in overwrite mode', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 400; seq++) p.write(seqPayload(108, seq));
    let lost = 0;
    let events = 0;
    tb.drainTo({ event: () => events++, lost: (_cpu, n) => (lost += n) });
    expect(events + lost).toBe(400);
  });

  it('from process.on("exit"): the file holds every event the producer workers committed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracebuf-exit-'));
    try {
      const file = join(dir, 'drain.txt');
      const perWorker = 20_000;
      const child = spawnSync(process.execPath, [new URL('./fixtures/exit-child.mjs', import.meta.url).pathname, file, String(perWorker)], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(child.status, child.stderr).toBe(0);
      const results = JSON.parse(child.stdout) as { written: number; dropped: number }[];
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      const perCpu = [0, 0];
      const lastSeq = [0, 0];
      for (const line of lines) {
        const [cpu, , hex] = line.split(' ');
        const bytes = new Uint8Array(Buffer.from(hex!, 'hex'));
        const e = checkEvent(bytes, 0, bytes.length);
        expect(e.cpu).toBe(Number(cpu));
        expect(e.seq).toBeGreaterThan(lastSeq[e.cpu]!);
        lastSeq[e.cpu] = e.seq;
        perCpu[e.cpu]!++;
      }
      expect(perCpu).toEqual(results.map((r) => r.written));
      expect(results.every((r) => r.written + r.dropped === perWorker)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recover', () => {
  it('rolls a publish cut short after the commit word forward (white-box crash)', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const cb = tb.cpuBuffer(0);
    const p = tb.producer(0);
    for (let seq = 1; seq <= 5; seq++) p.write(seqPayload(20, seq));
    // Simulate a thread that died after storing the commit word of a sixth event but before
    // the rest of its publish sequence: wseq odd, commit advanced, per-sub-buffer count not.
    const r = p.reserve(20)!;
    r.bytes.set(seqPayload(20, 6), r.offset);
    const tail = cb.writerSnapshot().tailPage;
    const commitAt = (cb.subbufOffset(tail) + 8) >> 2;
    Atomics.add(cb.ctl, layout.WSEQ_INDEX, 1);
    cb.i32[commitAt] = cb.i32[commitAt]! + 24;
    expect(tb.recover(0)).toBe(true);
    expect(tb.stats(0).entries).toBe(6);
    const seqs: number[] = [];
    tb.drainTo((_c, _t, payload) => seqs.push(new DataView(payload.buffer, payload.byteOffset).getUint32(8, true)));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    // The slot is free again and the ring goes on.
    const q = tb.producer(0);
    expect(q.write(seqPayload(20, 7))).toBe(true);
    expect(tb.drainTo(() => undefined)).toBe(1);
  });

  /** One committed event, mapped, and the producer "dead" with these sequences left odd. */
  function diedInside(...seqs: number[]) {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const cb = tb.cpuBuffer(0);
    tb.producer(0).write(seqPayload(20, 1));
    const m = tb.map(0);
    for (const index of seqs) Atomics.add(cb.ctl, index, 1);
    return { tb, m };
  }

  it('a reader facing a producer that died inside a publish hands out what was committed (it does not wait for the writer, so no EFAULT)', () => {
    const { tb, m } = diedInside(layout.WSEQ_INDEX);
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta).toMatchObject({ entries: 1, read: 1 });
    m.unmap();
    tb.recover(0);
    expect(tb.stats(0)).toMatchObject({ committed: 1, readEvents: 1, entries: 0 });
  });

  it('a reader facing a producer that died in the middle of a tail move gets EFAULT after a second, not a hang', () => {
    const { tb, m } = diedInside(layout.WSEQ_INDEX, layout.CROSS_SEQ_INDEX);
    const started = performance.now();
    expect(codeOf(() => m.ioctl(TRACE_MMAP_IOCTL_GET_READER))).toBe('EFAULT');
    expect(performance.now() - started).toBeLessThan(5000);
    m.unmap();
    // After recovery the reader gets the committed event.
    tb.recover(0);
    expect(tb.drainTo(() => undefined)).toBe(1);
  });

  it('a publish cut short before the commit word leaves the event invisible', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const cb = tb.cpuBuffer(0);
    const p = tb.producer(0);
    for (let seq = 1; seq <= 3; seq++) p.write(seqPayload(20, seq));
    p.reserve(20);
    Atomics.add(cb.ctl, layout.WSEQ_INDEX, 1);
    expect(tb.recover(0)).toBe(true);
    expect(tb.drainTo(() => undefined)).toBe(3);
  });

  it('after terminating producer workers mid-write, the ring stays consistent', async () => {
    const rounds = Number(process.env.TRACEBUF_RECOVER_ROUNDS ?? 6);
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    let lastSeqOverall = 0;
    let read = 0;
    for (let round = 0; round < rounds; round++) {
      const producer = startEndlessProducer(tb);
      const w = producer.worker;
      workers.add(w);
      // Let it get under way (a few sub-buffers), then kill it wherever it is.
      await producer.until(2000 + round * 997);
      await w.terminate();
      workers.delete(w);
      tb.recover(0);
      let lastSeq = 0;
      tb.drainTo((_cpu, _ts, payload) => {
        const e = checkEvent(payload, 0, payload.length);
        expect(e.seq).toBeGreaterThan(lastSeq);
        lastSeq = e.seq;
        read++;
      });
      lastSeqOverall = Math.max(lastSeqOverall, lastSeq);
      const s = tb.stats(0);
      expect(s.entries).toBe(0);
      expect(s.readEvents).toBe(read);
      expect(s.committed).toBe(s.overrun + read);
    }
    expect(lastSeqOverall).toBeGreaterThan(0);
  });
});

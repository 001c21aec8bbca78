/**
 * Cpu slots come online at run time, as the kernel allocates a CPU buffer when a CPU comes
 * online: when every online slot is claimed, `producer()` brings the next of `maxCpus` online
 * (memory of its own, the geometry of the others, the recording switch, a snapshot spare while
 * one is armed) and every thread of the buffer sees it. `EBUSY` only at `maxCpus`.
 */
import { Worker } from 'node:worker_threads';
import { TraceBuffer } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { codeOf } from './support/errors.js';
import { checkEvent } from './support/events.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

describe('cpu slots coming online', () => {
  it('maxCpus: default max(cpus, 128), at least cpus, EINVAL naming the value otherwise', () => {
    expect(TraceBuffer.create({ cpus: 2, nrSubbufs: 4 }).maxCpus).toBe(128);
    expect(TraceBuffer.create({ cpus: 200, nrSubbufs: 3 }).maxCpus).toBe(200);
    expect(() => TraceBuffer.create({ cpus: 4, maxCpus: 3 })).toThrow(/EINVAL: maxCpus must be an integer 4\.\.4096.*maxCpus=3/);
    expect(() => TraceBuffer.create({ cpus: 1, maxCpus: 1.5 })).toThrow(/maxCpus=1\.5/);
  });

  it('a slot not online costs no memory; claiming past the online slots brings the next online', () => {
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 3, nrSubbufs: 4 });
    expect(tb.cpus).toBe(1);
    for (const c of tb.handle.cpus.slice(1)) for (const b of c.banks) expect([b.data.byteLength, b.control.byteLength]).toEqual([0, 0]);
    const p0 = tb.producer();
    const p1 = tb.producer();
    expect([p0.cpu, p1.cpu, tb.cpus]).toEqual([0, 1, 2]);
    expect(tb.geometry(1)).toEqual(tb.geometry(0));
    expect(tb.handle.cpus[1]!.banks[0]!.data.byteLength).toBeGreaterThan(0);
    expect(tb.handle.cpus[2]!.banks[0]!.data.byteLength).toBe(0);
    expect(p1.write(new Uint8Array([1, 2, 3]))).toBe(true);
    expect(tb.stats(1).entries).toBe(1);
    // A released slot is taken again before another comes online.
    p1.release();
    expect(tb.producer().cpu).toBe(1);
    expect(tb.cpus).toBe(2);
    expect(tb.producer().cpu).toBe(2);
    // At maxCpus: EBUSY naming the cap, and nothing changed.
    expect(() => tb.producer()).toThrow(/EBUSY: no free cpu slot: cpus=3 \(maxCpus=3\)/);
    expect(tb.cpus).toBe(3);
    expect(codeOf(() => tb.producer(3))).toBe('EINVAL');
  });

  it('maxCpus = cpus keeps the old cap; a slot not online cannot be mapped or read', () => {
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 1, nrSubbufs: 4 });
    tb.producer();
    expect(codeOf(() => tb.producer())).toBe('EBUSY');
    const wide = TraceBuffer.create({ cpus: 1, maxCpus: 4, nrSubbufs: 4 });
    expect(() => wide.map(1)).toThrow(/EINVAL: cpu must be an integer 0\.\.0 \(the slots online\): cpu=1/);
    expect(codeOf(() => wide.stats(2))).toBe('EINVAL');
    expect(wide.claimToken(3)).toBe(0);
  });

  it('producer(cpu) for a slot not online brings the slots up to it online', () => {
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 8, nrSubbufs: 4 });
    const p = tb.producer(3);
    expect([p.cpu, tb.cpus]).toEqual([3, 4]);
    expect(tb.producer().cpu).toBe(0);
    expect(tb.producer().cpu).toBe(1);
  });

  it('the new slot gets the others’ size when they agree, else the smallest ring (trace_rb_cpu_prepare)', () => {
    const tb = TraceBuffer.create({ cpus: 2, maxCpus: 4, nrSubbufs: 6 });
    tb.resize({ nrSubbufs: 9 });
    tb.producer(2);
    expect(tb.geometry(2)).toEqual({ subbufSize: 4096, nrSubbufs: 9 });
    tb.resize({ nrSubbufs: 5, cpu: 0 });
    tb.producer(3);
    expect(tb.geometry(3)).toEqual({ subbufSize: 4096, nrSubbufs: 3 });
    tb.setSubbufSize(8192);
    expect(tb.geometry(3).subbufSize).toBe(8192);
  });

  it('comes online with recording off when it is off, and with a spare while a snapshot is armed', () => {
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 3, nrSubbufs: 4 });
    tb.producer(0).write(new Uint8Array(8).fill(5));
    tb.setRecording(false);
    const p = tb.producer();
    expect(p.write(new Uint8Array(8))).toBe(false);
    tb.setRecording(true);
    expect(p.write(new Uint8Array([7]))).toBe(true);
    tb.armSnapshot();
    const q = tb.producer();
    expect(q.cpu).toBe(2);
    expect(tb.handle.cpus[2]!.banks[1]!.data.byteLength).toBeGreaterThan(0);
    q.write(new Uint8Array([9, 9]));
    const snap = tb.snapshot();
    tb.disarmSnapshot();
    expect([snap.cpus, snap.maxCpus]).toEqual([3, 3]);
    expect([0, 1, 2].map((c) => snap.stats(c).entries)).toEqual([1, 1, 1]);
    expect([...snap.iterate()].map((e) => [e.cpu, e.payload[0]])).toEqual([
      [0, 5],
      [1, 7],
      [2, 9],
    ]);
    // The snapshot reattaches, and cannot grow.
    expect(TraceBuffer.attach(snap.handle).cpus).toBe(3);
    expect(codeOf(() => snap.producer())).toBe('EPERM');
  });

  it('threads racing for slots each get one of their own; every thread sees the new slots and reads them', async () => {
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 16, nrSubbufs: 8, clock: 'counter' });
    const main = tb.producer();
    const flag = new SharedArrayBuffer(12);
    const f = new Int32Array(flag);
    const n = 4;
    const count = 500;
    const reports: { cpu: number; seenAtAttach: number }[] = [];
    const released: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./fixtures/slot-online-worker.mjs', import.meta.url), { workerData: { handle: tb.handle, flag, count } });
      workers.add(w);
      let first = true;
      released.push(
        new Promise((resolve, reject) => {
          w.on('error', reject);
          w.on('message', (m: { cpu?: number; seenAtAttach?: number; error?: unknown; released?: boolean }) => {
            if (m.error !== undefined) reject(new Error(JSON.stringify(m.error)));
            else if (first) {
              first = false;
              reports.push(m as { cpu: number; seenAtAttach: number });
            } else if (m.released === true) resolve();
          });
        }),
      );
    }
    while (Atomics.load(f, 2) < n) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(f, 0, 1);
    Atomics.notify(f, 0);
    while (reports.length < n) await new Promise((r) => setTimeout(r, 5));
    expect(reports.every((r) => r.seenAtAttach === 1)).toBe(true);
    // Exactly as many slots as claimants: none brought online twice, none lost.
    expect(reports.map((r) => r.cpu).sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
    expect(tb.cpus).toBe(1 + n);
    // This thread reads what the workers wrote into slots it has never seen before.
    const seqs = new Map<number, number[]>();
    const read = tb.drainTo((cpu, _ts, payload) => {
      const e = checkEvent(payload, 0, payload.length);
      expect(e.cpu).toBe(cpu);
      seqs.set(cpu, [...(seqs.get(cpu) ?? []), e.seq]);
    });
    expect(read).toBe(n * count);
    for (let cpu = 1; cpu <= n; cpu++) expect(seqs.get(cpu)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    Atomics.store(f, 1, 1);
    Atomics.notify(f, 1);
    await Promise.all(released);
    // Slots of exited threads are recycled: no new slot comes online for the next claims.
    const again = Array.from({ length: n }, () => tb.producer().cpu).sort((a, b) => a - b);
    expect(again).toEqual([1, 2, 3, 4]);
    expect(tb.cpus).toBe(1 + n);
    main.release();
  });
});

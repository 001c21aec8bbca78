/**
 * Snapshots (issue 4, kernel-semantics §5.7): `tb.snapshot()` swaps every CPU buffer with a prepared
 * spare, so recording goes on at once into empty rings while the snapshot keeps everything that
 * was there, readable at leisure with the same API; `armSnapshot()` prepares the spare so a
 * producer thread can take the snapshot on a condition; a later snapshot reuses the spare's
 * memory (the older snapshot is then ESTALE).
 */
import { Worker } from 'node:worker_threads';
import { InterleavePoint, SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, type TraceBufferHandle, setInterleaveHook } from '@tracebuf/core';
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

describe('a producer that claims its slot while a snapshot swaps the bank', () => {
  // The claim reads the bank's control word and then checks that the bank is still live; a swap
  // between the two used to leave the producer writing into the snapshot's bank (its commits
  // passed: the old bank's generation had already moved on), so its events reached no reader.
  const claimDuringSwap = (tb: TraceBuffer): { p: ReturnType<TraceBuffer['producer']>; snapshot: TraceBuffer } => {
    let snapshot: TraceBuffer | undefined;
    setInterleaveHook((point) => {
      if (point === InterleavePoint.PRODUCER_BIND && snapshot === undefined) snapshot = tb.snapshot();
    });
    try {
      const p = tb.producer(0);
      expect(snapshot, 'the hook took a snapshot inside the claim').toBeDefined();
      return { p, snapshot: snapshot! };
    } finally {
      setInterleaveHook(undefined);
    }
  };

  it('writes into the new live ring, not into the snapshot', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: false });
    const { p, snapshot } = claimDuringSwap(tb);
    for (let seq = 1; seq <= 50; seq++) expect(p.write(seqPayload(40, seq))).toBe(true);
    expect(drainSeqs(snapshot)[0]).toEqual([]);
    expect(drainSeqs(tb)[0]).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('loses nothing when later snapshots recycle the bank it first held', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: false });
    const { p } = claimDuringSwap(tb);
    const seen: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let seq = round * 20 + 1; seq <= round * 20 + 20; seq++) expect(p.write(seqPayload(40, seq))).toBe(true);
      seen.push(...drainSeqs(tb.snapshot())[0]!);
    }
    seen.push(...drainSeqs(tb)[0]!);
    expect(seen).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
  });
});

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

  /**
   * One round: two producer workers attach, claim and write `count` events while the main thread
   * takes snapshots back to back; every committed event must turn up exactly once, in order.
   */
  async function snapshotRound(count: number): Promise<{ snapshots: number }> {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 64, overwrite: false });
    const round = [0, 1].map((cpu) => {
      const w = new Worker(new URL('./fixtures/producer-worker.mjs', import.meta.url), {
        workerData: { handle: tb.handle, cpu, count, minLength: 16, maxLength: 80, retryWhenFull: false },
      });
      workers.add(w);
      return {
        w,
        done: new Promise<{ written: number; dropped: number }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
      };
    });
    const done = round.map((r) => r.done);
    let finished = false;
    void Promise.all(done).then(
      () => (finished = true),
      () => (finished = true),
    );
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
    for (const cpu of [0, 1]) {
      expect(seen[cpu]!.size, `cpu ${cpu}: events seen of those written (${results[cpu]!.dropped} dropped)`).toBe(results[cpu]!.written);
    }
    for (const r of round) {
      await r.w.terminate();
      workers.delete(r.w);
    }
    return { snapshots };
  }

  it('under stress: snapshots while producer workers write lose nothing and corrupt nothing', async () => {
    const { snapshots } = await snapshotRound(30_000);
    expect(snapshots).toBeGreaterThan(1);
  });

  it('under stress: workers that attach and claim while snapshots swap the banks write into the live ring (TRACEBUF_STRESS_MS)', async () => {
    // The claim and the view of the live bank race the swap; each round starts two workers.
    const until = Date.now() + Number(process.env['TRACEBUF_STRESS_MS'] ?? 1000);
    let rounds = 0;
    do {
      await snapshotRound(3_000);
      rounds++;
    } while (Date.now() < until);
    expect(rounds).toBeGreaterThan(0);
  });
});

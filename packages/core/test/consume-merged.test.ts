/**
 * High-level consumers (issue 3): `tb.consume()` merges every CPU's events in timestamp order
 * like `trace_pipe`; `tb.rawStream(cpu)` is a Readable of kernel-format sub-buffers like
 * `trace_pipe_raw`. Both run on map + GET_READER + waits.
 */
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { CpuCursor, type Mapping, ReaderRanges, SubbufReader, type TraceEvent, TraceBuffer, earliest } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';
import { checkEvent } from './support/events.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

const seqOf = (payload: Uint8Array): number => new DataView(payload.buffer, payload.byteOffset).getUint32(8, true);

describe('tb.consume()', () => {
  it('merges the CPUs in timestamp order', async () => {
    const tb = TraceBuffer.create({ cpus: 3, subbufSize: 4096, nrSubbufs: 32, clock: 'counter' });
    const producers = [0, 1, 2].map((cpu) => tb.producer(cpu));
    // A deterministic scatter of 3000 events over the three CPUs; the counter clock numbers them.
    for (let seq = 1; seq <= 3000; seq++) producers[(seq * 7919) % 3]!.write(seqPayload(12 + (seq % 60), seq));
    const seen: TraceEvent[] = [];
    for await (const e of tb.consume({ untilEmpty: true })) seen.push(e);
    expect(seen.map((e) => seqOf(e.payload))).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(seen.map((e) => e.timestamp)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(seen.every((e) => e.cpu === (seqOf(e.payload) * 7919) % 3 && e.lostBefore === 0)).toBe(true);
    // It consumed them.
    for (const cpu of [0, 1, 2]) expect(tb.stats(cpu).entries).toBe(0);
  });

  it('reports losses with the first event after them', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 400; seq++) p.write(seqPayload(108, seq));
    const seen: TraceEvent[] = [];
    for await (const e of tb.consume({ untilEmpty: true })) seen.push(e);
    expect(seen[0]!.lostBefore).toBe(324);
    expect(seqOf(seen[0]!.payload)).toBe(325);
    expect(seen.length + seen[0]!.lostBefore).toBe(400);
  });

  it('waits for producers in other threads and stops when the signal aborts', async () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 64, overwrite: false });
    const count = 5000;
    for (const cpu of [0, 1]) {
      const w = new Worker(new URL('./fixtures/producer-worker.mjs', import.meta.url), {
        workerData: { handle: tb.handle, cpu, count, minLength: 16, maxLength: 64, retryWhenFull: true },
      });
      workers.add(w);
    }
    const ac = new AbortController();
    const last = [0, 0];
    let total = 0;
    for await (const e of tb.consume({ signal: ac.signal })) {
      const c = checkEvent(e.payload, 0, e.payload.length);
      expect(c.cpu).toBe(e.cpu);
      expect(c.seq).toBe(last[e.cpu]! + 1);
      last[e.cpu] = c.seq;
      if (++total === 2 * count) ac.abort();
    }
    expect(last).toEqual([count, count]);
  });
});

/** Reads a byte stream to its end and cuts it into sub-buffers (the stream may merge chunks). */
async function subbufs(stream: AsyncIterable<unknown>, size: number): Promise<Uint8Array[]> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  const all = Buffer.concat(parts);
  expect(all.length % size).toBe(0);
  return Array.from({ length: all.length / size }, (_, i) => new Uint8Array(all.subarray(i * size, (i + 1) * size)));
}

describe('an idle ring is not asked again until its producer publishes', () => {
  function counted(m: Mapping): { calls: () => number } {
    let calls = 0;
    const ioctl = m.ioctl.bind(m);
    m.ioctl = (cmd: number) => {
      calls++;
      return ioctl(cmd);
    };
    return { calls: () => calls };
  }

  it('ReaderRanges skips GET_READER while the publish sequence stands still', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8, clock: 'counter' });
    const m = tb.map(0);
    const spy = counted(m);
    const ranges = new ReaderRanges(m);
    expect([ranges.next(), ranges.next(), ranges.next()]).toEqual([false, false, false]);
    expect(spy.calls()).toBe(1);
    const p = tb.producer(0);
    p.write(seqPayload(16, 1));
    expect(ranges.next()).toBe(true);
    expect(spy.calls()).toBe(2);
    // Nothing new: one call finds that out, the next is skipped.
    expect([ranges.next(), ranges.next()]).toEqual([false, false]);
    expect(spy.calls()).toBe(3);
    // Another event moves the sequence: asked again.
    p.write(seqPayload(16, 2));
    expect(ranges.next()).toBe(true);
    expect(ranges.read - ranges.from).toBeGreaterThan(0);
    m.unmap();
  });

  it('a merging consumer asks an idle ring once per pass, not once per event of the busy one', () => {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 64, clock: 'counter' });
    const p = tb.producer(0);
    for (let i = 1; i <= 1000; i++) p.write(seqPayload(16, i));
    const busy = tb.map(0);
    const idle = tb.map(1);
    const spy = counted(idle);
    const cursors = [new CpuCursor(busy), new CpuCursor(idle)];
    let n = 0;
    for (let c = earliest(cursors); c !== undefined; c = earliest(cursors)) {
      c.has = false;
      n++;
    }
    expect(n).toBe(1000);
    expect(spy.calls()).toBe(1);
    // The idle ring's producer publishes: the next pass reads it.
    tb.producer(1).write(seqPayload(16, 5000));
    const next = earliest(cursors);
    expect(next?.mapping.cpu).toBe(1);
    expect(spy.calls()).toBe(2);
    busy.unmap();
    idle.unmap();
  });
});

describe('tb.rawStream(cpu)', () => {
  it('lets the process exit once it is destroyed while waiting for data (no signal given)', () => {
    // The stream's pending wait keeps the process alive; destroy() must end it.
    const script = `
      import { TraceBuffer } from '@tracebuf/core';
      const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8 });
      tb.producer(0).write(new Uint8Array(16));
      const s = tb.rawStream(0);
      s.on('data', () => {});
      setTimeout(() => s.destroy(), 50);
      s.once('close', () => console.log('closed'));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('../../../', import.meta.url),
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(run.signal, 'still running after 10 s: the destroyed stream kept the process alive').toBeNull();
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('closed');
  });

  it('streams kernel-format sub-buffers that decode to every event once', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8, clock: 'counter' });
    const p = tb.producer(0);
    const chunks: Uint8Array[] = [];
    // Write in bursts with reads between, so some chunks continue a sub-buffer the producer is on.
    let seq = 0;
    for (let burst = 0; burst < 5; burst++) {
      for (let i = 0; i < 57; i++) p.write(seqPayload(40, ++seq));
      chunks.push(...(await subbufs(tb.rawStream(0, { untilEmpty: true }), 4096)));
    }
    const r = new SubbufReader();
    const seqs: number[] = [];
    const stamps: number[] = [];
    for (const chunk of chunks) {
      expect(chunk.length).toBe(4096);
      r.load(chunk);
      while (r.next()) {
        seqs.push(seqOf(chunk.subarray(r.payloadOffset)));
        stamps.push(r.timestamp);
      }
    }
    expect(seqs).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    // The counter clock stamps event n with n: the copied sub-buffers keep every timestamp right.
    expect(stamps).toEqual(seqs);
    expect(chunks.length).toBeGreaterThan(5);
  });

  it('keeps the missed-events flags and the stored count', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 400; seq++) p.write(seqPayload(108, seq));
    const chunks = await subbufs(tb.rawStream(0, { untilEmpty: true }), 4096);
    const r = new SubbufReader().load(chunks[0]!);
    expect([r.missedEvents, r.lostEvents, r.commitLength]).toEqual([true, 324, 4032]);
  });
});

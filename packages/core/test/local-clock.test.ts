/**
 * The `local` clock (kernel `local` in spirit): a coarse time that a ticker thread stores in
 * shared memory once per tick, refined per ring. Each ring's stamps never decrease (also across
 * a hand-over of the ring to another producer and across the ticker's sleep), events of
 * different rings more than a tick apart merge in time order, stamps follow the real time, and
 * the ticker sleeps while nobody writes. The ticker's progress is observed, never slept on.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, type TraceEvent, TraceBuffer, layout } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';

const TICK_NS = 1_000_000;
const nap = new Int32Array(new SharedArrayBuffer(4));

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

const seqOf = (payload: Uint8Array): number => new DataView(payload.buffer, payload.byteOffset).getUint32(8, true);

function clockPage(tb: TraceBuffer): { tick(): number; state(): number } {
  const page = tb.handle.clock!;
  const f64 = new Float64Array(page);
  const i32 = new Int32Array(page);
  return { tick: () => f64[layout.TICK_F64_INDEX]!, state: () => Atomics.load(i32, layout.TICKER_STATE_INDEX) };
}

/** Naps (0.1 ms at a time) until `done()`; fails after `ms`. */
function napUntil(done: () => boolean, ms: number, what: string): void {
  const start = performance.now();
  while (!done()) {
    if (performance.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    Atomics.wait(nap, 0, 0, 0.1);
  }
}

function stampsOf(tb: TraceBuffer, cpu: number): number[] {
  const out: number[] = [];
  for (const e of tb.iterate()) if (e.cpu === cpu) out.push(e.timestamp);
  return out;
}

function expectNonDecreasing(stamps: readonly number[]): void {
  const firstDrop = stamps.findIndex((t, i) => i > 0 && t < stamps[i - 1]!);
  expect(firstDrop, `stamp ${firstDrop} goes back: ${stamps[firstDrop - 1]} then ${stamps[firstDrop]}`).toBe(-1);
}

describe("clock: 'local'", () => {
  it("is accepted, and its handle carries the clock page (EINVAL without it)", () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8, clock: 'local' });
    expect(tb.config.clock).toBe('local');
    expect(tb.handle.clock).toBeInstanceOf(SharedArrayBuffer);
    expect(TraceBuffer.attach(tb.handle).config.clock).toBe('local');
    const { clock: _page, ...withoutPage } = tb.handle;
    expect(() => TraceBuffer.attach(withoutPage)).toThrow(expect.objectContaining({ code: ErrorCode.EINVAL }));
    expect(() => TraceBuffer.create({ clock: 'jiffies' as never })).toThrow(expect.objectContaining({ code: ErrorCode.EINVAL }));
  });

  it("stamps each ring in non-decreasing order that follows the real time", () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 256, clock: 'local' });
    const p = tb.producer(0);
    const before = tb.stats(0).nowTs;
    for (let seq = 1; seq <= 20_000; seq++) p.write(seqPayload(12 + (seq % 40), seq));
    const after = tb.stats(0).nowTs;
    const stamps = stampsOf(tb, 0);
    expect(stamps.length).toBe(20_000);
    expectNonDecreasing(stamps);
    // A stamp is the tick the write saw (at most one tick and the ticker's delay old) refined by
    // at most one tick; 50 ms covers a descheduled ticker on a loaded machine.
    expect(stamps[0]!).toBeGreaterThan(before - 50e6);
    expect(stamps.at(-1)!).toBeLessThan(after + TICK_NS);
    expect(new Set(stamps).size, 'stamps inside a tick are refined, not all equal').toBeGreaterThan(stamps.length / 2);
  });

  it('merges events of different rings in time order when the tick has moved between them', async () => {
    const tb = TraceBuffer.create({ cpus: 3, subbufSize: 4096, nrSubbufs: 16, clock: 'local' });
    const clock = clockPage(tb);
    const producers = [0, 1, 2].map((cpu) => tb.producer(cpu));
    const count = 60;
    for (let seq = 1; seq <= count; seq++) {
      const p = producers[(seq * 7) % 3]!;
      p.write(seqPayload(16, seq));
      // Every stamp of the tick this write saw is below the next tick: wait for two ticks after it.
      const seen = clock.tick();
      napUntil(() => clock.tick() >= seen + 2 * TICK_NS, 5_000, 'the ticker');
    }
    const merged: TraceEvent[] = [];
    for await (const e of tb.consume({ untilEmpty: true })) merged.push(e);
    expect(merged.map((e) => seqOf(e.payload))).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });

  it('sleeps while nobody writes, and the next write wakes it with a later stamp', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8, clock: 'local' });
    const clock = clockPage(tb);
    const p = tb.producer(0);
    p.write(seqPayload(16, 1));
    expect(clock.state()).toBe(layout.TickerState.RUNNING);
    // The ticker stores SLEEPING, then NaN (so that a producer seeing NaN finds it asleep): wait
    // for both, not just the first.
    napUntil(() => clock.state() === layout.TickerState.SLEEPING && Number.isNaN(clock.tick()), 10_000, 'the ticker to sleep and clear the tick');
    expect(Number.isNaN(clock.tick())).toBe(true);
    const idleSince = tb.stats(0).nowTs;
    p.write(seqPayload(16, 2));
    expect(clock.state()).toBe(layout.TickerState.RUNNING);
    const stamps = stampsOf(tb, 0);
    expect(stamps).toHaveLength(2);
    expect(stamps[1]!).toBeGreaterThanOrEqual(idleSince);
    // And it ticks again.
    const woke = clock.tick();
    napUntil(() => clock.tick() > woke, 5_000, 'the next tick');
  });

  it('keeps a ring non-decreasing when another producer takes it over within the tick', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 64, clock: 'local' });
    let seq = 0;
    for (let round = 0; round < 50; round++) {
      const p = tb.producer(0);
      for (let i = 0; i < 100; i++) p.write(seqPayload(12, ++seq));
      p.release();
    }
    const stamps = stampsOf(tb, 0);
    expect(stamps.length).toBeGreaterThan(0);
    expectNonDecreasing(stamps);
  });

  it('stamps events written by a producer thread on the same time scale', async () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 64, overwrite: false, clock: 'local' });
    const before = tb.stats(0).nowTs;
    const w = new Worker(new URL('./fixtures/producer-worker.mjs', import.meta.url), {
      workerData: { handle: tb.handle, cpu: 1, count: 2000, minLength: 16, maxLength: 64, retryWhenFull: false },
    });
    workers.add(w);
    await new Promise((resolve, reject) => {
      w.once('exit', resolve);
      w.once('error', reject);
    });
    const after = tb.stats(0).nowTs;
    const stamps = stampsOf(tb, 1);
    expect(stamps.length).toBe(2000);
    expectNonDecreasing(stamps);
    expect(stamps[0]!).toBeGreaterThan(before - 50e6);
    expect(stamps.at(-1)!).toBeLessThan(after + TICK_NS);
  });
});

/**
 * Waits (kernel-semantics §6): the buffer_percent watermark, checked by producers only at sub-buffer
 * crossings, with the kernel-verified steps on an 11-sub-buffer ring of 112-byte events (36 per
 * sub-buffer): started with 1 event present, p=1 returns at once, 20 when the producer enters
 * sub-buffer 3, 50 → 6, 80 → 9, 100 → 11; started on an empty buffer, every p returns at the
 * first crossing (the 37th event). Wake-ups also come from ioctl(0) and recording off.
 */
import { Worker } from 'node:worker_threads';
import { AbortError, TraceBuffer } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';

const PER_SUBBUF = 36;

function setup(bufferPercent: number) {
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 12, bufferPercent });
  return { tb, m: tb.map(0), p: tb.producer(0) };
}

/** Writes 112-byte events one at a time until the waiters are woken; returns that event's number. */
async function eventThatWakes(tb: TraceBuffer, write: (n: number) => void, start: number, pending: Promise<boolean>) {
  let woken = false;
  void pending.then(() => (woken = true));
  const cb = tb.cpuBuffer(0);
  const wakeSeq = (): number => cb.wakeSequence();
  const before = wakeSeq();
  expect(woken).toBe(false);
  for (let n = start; n <= 12 * PER_SUBBUF; n++) {
    write(n);
    if (wakeSeq() !== before) {
      expect(await pending).toBe(true);
      return n;
    }
  }
  await new Promise((resolve) => setImmediate(resolve));
  return woken ? -2 : -1;
}

describe('buffer_percent watermark', () => {
  it.each([
    [20, 2 * PER_SUBBUF + 1],
    [50, 5 * PER_SUBBUF + 1],
    [80, 8 * PER_SUBBUF + 1],
    [100, 10 * PER_SUBBUF + 1],
  ])('with one event present, p=%i wakes when the producer enters the matching sub-buffer (event %i)', async (percent, expected) => {
    const { tb, m, p } = setup(percent);
    p.write(seqPayload(108, 1));
    const pending = m.waitAsync({ timeoutMs: 10_000 });
    expect(await eventThatWakes(tb, (n) => p.write(seqPayload(108, n)), 2, pending)).toBe(expected);
  });

  it('p=1 with one event present returns at once', async () => {
    const { m, p } = setup(1);
    p.write(seqPayload(108, 1));
    expect(await m.waitAsync({ timeoutMs: 0 })).toBe(true);
  });

  it.each([1, 20, 50, 80, 100])('started on an empty buffer, p=%i wakes at the first crossing', async (percent) => {
    const { tb, m, p } = setup(percent);
    const pending = m.waitAsync({ timeoutMs: 10_000 });
    expect(await eventThatWakes(tb, (n) => p.write(seqPayload(108, n)), 1, pending)).toBe(PER_SUBBUF + 1);
  });

  it('p=0 wakes at the first commit', async () => {
    const { tb, m, p } = setup(0);
    const pending = m.waitAsync({ timeoutMs: 10_000 });
    expect(await eventThatWakes(tb, (n) => p.write(seqPayload(108, n)), 1, pending)).toBe(1);
  });

  it('producers do not notify when nobody waits', () => {
    const { tb, p } = setup(0);
    for (let n = 1; n <= 500; n++) p.write(seqPayload(108, n));
    expect(tb.cpuBuffer(0).wakeSequence()).toBe(0);
  });
});

describe('wake-ups, timeouts, aborts', () => {
  const workers = new Set<Worker>();
  afterEach(async () => {
    await Promise.all([...workers].map((w) => w.terminate()));
    workers.clear();
  });

  it('ioctl(0) and recording off release waiters', async () => {
    const { tb, m } = setup(50);
    const first = m.waitAsync();
    m.ioctl(0);
    expect(await first).toBe(true);
    const second = m.waitAsync();
    tb.setRecording(false);
    expect(await second).toBe(true);
  });

  it('times out with false', async () => {
    const { m } = setup(50);
    expect(await m.waitAsync({ timeoutMs: 20 })).toBe(false);
  });

  it('rejects with AbortError when the signal aborts, and at once when already aborted', async () => {
    const { m } = setup(50);
    const ac = new AbortController();
    const pending = m.waitAsync({ signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    await expect(m.waitAsync({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects bad timeouts with EINVAL and waits on an unmapped mapping with ENODEV', async () => {
    const { m } = setup(50);
    expect(() => m.wait({ timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    m.unmap();
    await expect(m.waitAsync()).rejects.toMatchObject({ code: 'ENODEV' });
  });

  it('a worker blocked in wait() is woken by the producer crossing a sub-buffer', async () => {
    const { tb, p } = setup(0);
    const w = new Worker(new URL('./fixtures/wait-worker.mjs', import.meta.url), {
      workerData: { handle: tb.handle, cpu: 0, timeoutMs: 20_000 },
    });
    workers.add(w);
    const messages: { state: string; woken?: boolean }[] = [];
    const done = new Promise<{ woken?: boolean }>((resolve, reject) => {
      w.on('message', (msg: { state: string; woken?: boolean }) => {
        messages.push(msg);
        if (msg.state === 'done') resolve(msg);
      });
      w.once('error', reject);
    });
    await new Promise<void>((resolve) => w.once('message', () => resolve()));
    for (let n = 1; messages.length < 2 && n <= 100_000; n++) {
      p.write(seqPayload(108, n));
      if (n % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await done).woken).toBe(true);
  });

  it('a worker wait() on an idle buffer times out with false', async () => {
    const { tb } = setup(50);
    const w = new Worker(new URL('./fixtures/wait-worker.mjs', import.meta.url), {
      workerData: { handle: tb.handle, cpu: 0, timeoutMs: 30 },
    });
    workers.add(w);
    const result = await new Promise<{ woken?: boolean }>((resolve, reject) => {
      w.on('message', (msg: { state: string; woken?: boolean }) => msg.state === 'done' && resolve(msg));
      w.once('error', reject);
    });
    expect(result.woken).toBe(false);
  });
});


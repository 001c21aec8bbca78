/**
 * A consumer worker that holds only a control-channel MessagePort — no TraceBuffer handle —
 * drains a CPU buffer through the channel (GET_READER runs in this thread, the owner; the worker
 * decodes its descriptor's shared bytes), while this thread's producer writes numbered events.
 * Invariants (kernel-semantics §4.2, §5.5): every event read is whole, sequences only increase, and
 * read + lost == written, where lost is the overrun (overwrite) or the refused writes
 * (producer/consumer). With a producer that retries when the ring is full nothing is lost.
 */
import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { type Producer, TraceBuffer } from '@tracebuf/core';
import { exposeControl } from '@tracebuf/node';
import { afterEach, describe, expect, it } from 'vitest';

interface ConsumerReport {
  readonly seqs: number[];
  readonly corrupt: string[];
  readonly flaggedLost: number;
  readonly unknownLoss: number;
  readonly getReaderCalls: number;
  readonly metaRead: number;
}

const workers = new Set<Worker>();
const disposers = new Set<() => void>();
afterEach(async () => {
  for (const dispose of disposers) dispose();
  disposers.clear();
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

/** Starts the consumer worker on a fresh channel exposed for `tb`. */
function startConsumer(
  tb: TraceBuffer,
  cpu: number,
  extra: { leaveMapped?: boolean; keepAlive?: boolean } = {},
): { worker: Worker; ready: Promise<void>; report: Promise<ConsumerReport>; ownerPortClosed: Promise<unknown> } {
  const { port1, port2 } = new MessageChannel();
  disposers.add(exposeControl(tb, port1));
  const ownerPortClosed = once(port1, 'close');
  const worker = new Worker(new URL('./fixtures/control-consumer.mjs', import.meta.url), {
    workerData: { port: port2, cpu, ...extra },
    transferList: [port2],
  });
  workers.add(worker);
  const messages: unknown[] = [];
  const waiting = new Set<() => void>();
  worker.on('message', (msg) => {
    messages.push(msg);
    for (const wake of waiting) wake();
    waiting.clear();
  });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`consumer exited before reporting: code=${code}`)));
  });
  failed.catch(() => undefined);
  const nthMessage = async (n: number): Promise<unknown> => {
    while (messages.length <= n) await Promise.race([new Promise<void>((resolve) => waiting.add(resolve)), failed]);
    return messages[n];
  };
  const ready = nthMessage(0).then(() => undefined);
  const report = nthMessage(1) as Promise<ConsumerReport>;
  return { worker, ready, report, ownerPortClosed };
}

/** Event `seq` of slot `cpu`: (cpu, length, seq, checksum) then a seq-derived pattern. */
function encodeEvent(buffer: Uint8Array, cpu: number, seq: number): Uint8Array {
  const length = 16 + (seq % 113);
  const view = new DataView(buffer.buffer, buffer.byteOffset, length);
  view.setUint32(0, cpu, true);
  view.setUint32(4, length, true);
  view.setUint32(8, seq, true);
  let sum = cpu ^ length ^ seq;
  for (let i = 16; i < length; i++) {
    buffer[i] = (seq * 31 + i) & 0xff;
    sum = (sum + buffer[i]!) | 0;
  }
  view.setInt32(12, sum, true);
  return buffer.subarray(0, length);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes events 1..count in bursts of varying size, giving the event loop a turn between bursts
 * (this thread also serves the consumer's GET_READER calls) and more turns while `behind()` says
 * the consumer has not caught up. Returns the sequences accepted and the refused write attempts.
 */
async function produce(
  p: Producer,
  count: number,
  retryWhenFull: boolean,
  behind: () => boolean = () => false,
): Promise<{ accepted: number[]; refused: number }> {
  const buffer = new Uint8Array(256);
  const accepted: number[] = [];
  let refused = 0;
  let seq = 0;
  for (let burst = 0; seq < count; burst++) {
    // Mostly bursts smaller than a sub-buffer, every 50th one larger than the ring: with the
    // pacing of `behind`, only those overwrite (or are refused).
    const size = burst % 50 === 49 ? 500 : 1 + ((burst * 7) % 20);
    for (let i = 0; i < size && seq < count; i++) {
      const event = encodeEvent(buffer, p.cpu, ++seq);
      let ok = p.write(event);
      while (!ok) {
        refused++;
        if (!retryWhenFull) break;
        await nextTurn();
        ok = p.write(event);
      }
      if (ok) accepted.push(seq);
    }
    do await nextTurn();
    while (behind());
  }
  return { accepted, refused };
}

function expectIncreasing(seqs: readonly number[]): void {
  const firstBad = seqs.findIndex((s, i) => i > 0 && s <= seqs[i - 1]!);
  expect(firstBad, `sequence goes back at index ${firstBad}`).toBe(-1);
}

describe('a consumer worker drains a buffer only through the control channel', () => {
  const COUNT = 30_000;
  /** Pacing: the unread events are more than half a sub-buffer's worth (4 KiB / ≈ 80 bytes). */
  const behind = (tb: TraceBuffer) => (): boolean => tb.stats(0).entries > 25;

  it('overwrite: events whole and in order, read + overrun == written', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: true });
    const { worker, ready, report } = startConsumer(tb, 0);
    await ready;
    const p = tb.producer(0);
    const { refused } = await produce(p, COUNT, false, behind(tb));
    p.release();
    worker.postMessage('done');
    const r = await report;
    const stats = tb.stats(0);

    expect(r.corrupt).toEqual([]);
    expect(refused).toBe(0);
    // A 500-event burst is more than the 3 ring sub-buffers hold, and the owner serves no
    // GET_READER in the middle of a burst: some events must have been overwritten.
    expect(stats.overrun).toBeGreaterThan(0);
    expectIncreasing(r.seqs);
    expect(r.seqs.length + stats.overrun).toBe(COUNT);
    // Nothing overwrites the newest event.
    expect(r.seqs.at(-1)).toBe(COUNT);
    // The flagged losses account for the overrun (a count is stored only when 8 bytes are free).
    if (r.unknownLoss === 0) expect(r.flaggedLost + stats.lostUnreported).toBe(stats.overrun);
    else expect(r.flaggedLost + stats.lostUnreported).toBeLessThan(stats.overrun);
    expect(stats.readEvents).toBe(r.seqs.length);
    expect(r.metaRead).toBe(r.seqs.length);
    expect(stats.entries).toBe(0);
  });

  it('producer/consumer: exactly the accepted events are read, read + dropped == written', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: false });
    const { worker, ready, report } = startConsumer(tb, 0);
    await ready;
    const p = tb.producer(0);
    const { accepted, refused } = await produce(p, COUNT, false, behind(tb));
    p.release();
    worker.postMessage('done');
    const r = await report;
    const stats = tb.stats(0);

    expect(r.corrupt).toEqual([]);
    expect(r.seqs).toEqual(accepted);
    // As above, a 500-event burst cannot fit: some writes must have been refused.
    expect(refused).toBeGreaterThan(0);
    expect(stats.droppedEvents).toBe(refused);
    expect(r.seqs.length + refused).toBe(COUNT);
    expect(r.flaggedLost).toBe(0);
    expect(r.unknownLoss).toBe(0);
    expect(stats.readEvents).toBe(r.seqs.length);
    expect(stats.entries).toBe(0);
  });

  it('producer/consumer with a producer that waits for room: nothing is lost', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite: false });
    const { worker, ready, report } = startConsumer(tb, 0);
    await ready;
    const p = tb.producer(0);
    const { accepted, refused } = await produce(p, COUNT, true);
    p.release();
    worker.postMessage('done');
    const r = await report;
    const stats = tb.stats(0);

    expect(r.corrupt).toEqual([]);
    expect(accepted).toHaveLength(COUNT);
    expect(r.seqs).toEqual(accepted);
    // Every refusal was a retry, counted by the buffer as a dropped attempt.
    expect(stats.droppedEvents).toBe(refused);
    expect(stats.readEvents).toBe(COUNT);
  });

  it('the owner unmaps a mapping its consumer left when the consumer thread is terminated', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const { worker, ready, report, ownerPortClosed } = startConsumer(tb, 0, { leaveMapped: true, keepAlive: true });
    await ready;
    worker.postMessage('done');
    await report;
    expect(tb.cpuBuffer(0).mappings()).toBe(1);
    await worker.terminate();
    await ownerPortClosed;
    expect(tb.cpuBuffer(0).mappings()).toBe(0);
  });

  it('an idle client does not keep its thread alive; the owner unmaps what it left when it exits', async () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const { worker, ready, report, ownerPortClosed } = startConsumer(tb, 0, { leaveMapped: true });
    const exited = once(worker, 'exit');
    await ready;
    worker.postMessage('done');
    await report;
    // No terminate(): the worker ends by itself with the channel still open and a mapping left.
    expect(await exited).toEqual([0]);
    await ownerPortClosed;
    expect(tb.cpuBuffer(0).mappings()).toBe(0);
  });
});

/**
 * The control channel serves every operation of the owner's TraceBuffer (DESIGN.md §3, control
 * plane): map/unmap bookkeeping, GET_READER for a consumer that holds only a mapping descriptor,
 * waits and wake-ups, record on/off, reset, stats. Both ends in this thread (a MessageChannel);
 * the expectations come from the owner's own TraceBuffer, the reference for every result.
 */
import { once } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  AbortError,
  SubbufReader,
  TRACE_MMAP_IOCTL_GET_READER,
  TRACE_MMAP_IOCTL_WAKE,
  TraceBuffer,
  TraceBufferError,
  type TraceBufferOptions,
  cpuDataLength,
} from '@tracebuf/core';
import { type ControlClient, RemoteMapping, connectControl, exposeControl } from '@tracebuf/node';
import { afterEach, describe, expect, it } from 'vitest';

const open = new Set<{ dispose: () => void; client: ControlClient }>();
afterEach(() => {
  for (const c of open) {
    c.client.close();
    c.dispose();
  }
  open.clear();
});

function setup(options: TraceBufferOptions = {}): { tb: TraceBuffer; client: ControlClient; dispose: () => void; ownerPort: MessagePort } {
  const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 8, ...options });
  const { port1, port2 } = new MessageChannel();
  const dispose = exposeControl(tb, port1);
  const client = connectControl(port2);
  open.add({ dispose, client });
  return { tb, client, dispose, ownerPort: port1 };
}

function seqPayload(seq: number, length = 12): Uint8Array {
  const payload = new Uint8Array(length);
  new DataView(payload.buffer).setUint32(0, seq, true);
  return payload;
}

/** Drains `m` through GET_READER until a call hands out nothing new; returns the sequences. */
async function drainRemote(m: RemoteMapping): Promise<number[]> {
  const r = new SubbufReader();
  const seqs: number[] = [];
  let lastId = m.readerId;
  let lastRead = m.readerRead;
  for (;;) {
    expect(await m.ioctl(TRACE_MMAP_IOCTL_GET_READER)).toBe(0);
    const { id, read } = m.meta.reader;
    if (id === lastId && read === lastRead) return seqs;
    r.load(m.bytes, m.subbufOffset(id), id === lastId ? lastRead : 0, read);
    while (r.next()) seqs.push(new DataView(m.bytes.buffer, r.payloadOffset, 4).getUint32(0, true));
    lastId = id;
    lastRead = read;
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the control channel serves the owner operations', () => {
  it('config() is the owner config', async () => {
    const { tb, client } = setup({ overwrite: false, bufferPercent: 25 });
    expect(await client.config()).toEqual(tb.config);
  });

  it('cpus() follows the slots coming online; a slot brought online can be mapped remotely', async () => {
    const { tb, client } = setup();
    const before = await client.cpus();
    expect(before).toBe(tb.config.cpus);
    const held = Array.from({ length: before + 1 }, () => tb.producer());
    expect(await client.cpus()).toBe(before + 1);
    held.at(-1)!.write(seqPayload(7));
    const m = await client.map(before);
    expect(await drainRemote(m)).toEqual([7]);
    await m.unmap();
    const err = await client.map(before + 1).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('EINVAL');
  });

  it('map() gives a descriptor of the data SharedArrayBuffer only, in the kernel mmap layout', async () => {
    const { tb, client } = setup();
    const m = await client.map(1);
    expect(m).toBeInstanceOf(RemoteMapping);
    expect(m.cpu).toBe(1);
    expect(m.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.bytes.byteLength).toBe(cpuDataLength(tb.config));
    expect(m.bytes.byteLength).toBe(tb.map(1).bytes.byteLength);
    expect([m.metaPageSize, m.subbufSize, m.nrSubbufs]).toEqual([4096, 4096, 8]);
    // Sub-buffer k at metaPageSize + k * subbufSize (kernel-semantics §5.3).
    expect(m.subbufOffset(3)).toBe(4096 + 3 * 4096);
    expect(m.subbuf(7).byteLength).toBe(4096);
    expect(() => m.subbufOffset(8)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    // The same memory: what the owner's producer writes, the descriptor's bytes show.
    const p = tb.producer(1);
    p.write(seqPayload(7));
    const local = tb.map(1);
    local.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.subbuf(m.readerId)).toEqual(local.subbuf(local.readerId));
    local.unmap();
  });

  it('a remote mapping has no mutators: only reads, and calls that run in the owner', () => {
    const members = Object.getOwnPropertyNames(RemoteMapping.prototype).sort();
    expect(members).toEqual(['constructor', 'ioctl', 'mapped', 'meta', 'readerId', 'readerRead', 'subbuf', 'subbufOffset', 'unmap', 'waitAsync']);
  });

  it('GET_READER through the channel hands out every event in order, the meta page decoded as core does', async () => {
    const { tb, client } = setup();
    const m = await client.map(0);
    const local = tb.map(0);
    const p = tb.producer(0);
    // About three sub-buffers of 16-byte events (a 4080-byte data area holds 255 of them).
    for (let seq = 1; seq <= 700; seq++) expect(p.write(seqPayload(seq))).toBe(true);
    expect(await drainRemote(m)).toEqual(range(1, 700));
    expect(m.meta).toEqual(local.meta);
    expect(m.meta.read).toBe(700);
    for (let seq = 701; seq <= 720; seq++) p.write(seqPayload(seq));
    expect(await drainRemote(m)).toEqual(range(701, 720));
    expect(m.meta).toEqual(local.meta);
    expect(tb.stats(0).readEvents).toBe(720);
    local.unmap();
  });

  it('keeps the mappings by id, unmaps them on unmap() and when the channel closes', async () => {
    const { tb, client, ownerPort } = setup();
    const counts = (): number[] => [tb.cpuBuffer(0).mappings(), tb.cpuBuffer(1).mappings()];
    const a = await client.map(0);
    const b = await client.map(0);
    const c = await client.map(1);
    expect(new Set([a.mappingId, b.mappingId, c.mappingId]).size).toBe(3);
    expect(counts()).toEqual([2, 1]);
    await a.unmap();
    expect(a.mapped).toBe(false);
    expect(counts()).toEqual([1, 1]);
    await a.unmap(); // idempotent
    expect(counts()).toEqual([1, 1]);
    const closed = once(ownerPort, 'close');
    client.close();
    await closed;
    expect(counts()).toEqual([0, 0]);
    expect(b.mapped).toBe(false);
  });

  it('setRecording() and recording() switch the owner buffer', async () => {
    const { tb, client } = setup();
    const p = tb.producer(0);
    await client.setRecording(false);
    expect(tb.recording).toBe(false);
    expect(await client.recording()).toBe(false);
    expect(p.write(seqPayload(1))).toBe(false);
    await client.setRecording(true);
    expect(tb.recording).toBe(true);
    expect(await client.recording()).toBe(true);
    expect(p.write(seqPayload(2))).toBe(true);
  });

  it('reset(cpu) empties that CPU buffer and refreshes the meta page; reset() empties all', async () => {
    const { tb, client } = setup();
    const m0 = await client.map(0);
    const p0 = tb.producer(0);
    const p1 = tb.producer(1);
    for (let seq = 1; seq <= 50; seq++) {
      p0.write(seqPayload(seq));
      p1.write(seqPayload(seq));
    }
    await m0.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m0.meta.entries).toBe(50);
    await client.reset(0);
    expect(tb.stats(0).entries).toBe(0);
    expect(m0.meta.entries).toBe(0);
    expect(tb.stats(1).entries).toBe(50);
    await client.reset();
    expect(tb.stats(1).entries).toBe(0);
    p0.write(seqPayload(51));
    expect(await drainRemote(m0)).toEqual([51]);
  });

  it('stats(cpu) are the owner counters', async () => {
    const { tb, client } = setup({ nrSubbufs: 3 });
    const p = tb.producer(0);
    for (let seq = 1; seq <= 2000; seq++) p.write(seqPayload(seq, 40));
    const { nowTs: remoteNow, ...remote } = await client.stats(0);
    const { nowTs: localNow, ...local } = tb.stats(0);
    expect(remote).toEqual(local);
    expect(remote.overrun).toBeGreaterThan(0);
    expect(remoteNow).toBeLessThanOrEqual(localNow);
  });

  it('waitAsync() resolves true when the owner is woken by wake(cpu) or ioctl(WAKE)', async () => {
    const { client } = setup();
    const m = await client.map(0);
    // One port delivers in order: the wait is registered in the owner before the wake arrives.
    // An empty buffer is below the watermark, so only the wake-up can end the wait early.
    const byWake = m.waitAsync({ timeoutMs: 20_000 });
    await client.wake(0);
    expect(await byWake).toBe(true);
    const byIoctl = m.waitAsync({ timeoutMs: 20_000 });
    expect(await m.ioctl(TRACE_MMAP_IOCTL_WAKE)).toBe(0);
    expect(await byIoctl).toBe(true);
  });

  it('waitAsync() resolves true at once when the watermark is already reached', async () => {
    const { tb, client } = setup({ bufferPercent: 0 });
    const m = await client.map(0);
    tb.producer(0).write(seqPayload(1));
    expect(await m.waitAsync({ timeoutMs: 20_000 })).toBe(true);
  });

  it('waitAsync() resolves false on timeout', async () => {
    const { client } = setup();
    const m = await client.map(0);
    expect(await m.waitAsync({ timeoutMs: 1 })).toBe(false);
  });

  it('waitAsync() rejects with an AbortError when the signal aborts, and ends the owner wait', async () => {
    const { client } = setup();
    const m = await client.map(0);
    const controller = new AbortController();
    // The client does not reject by itself: the abort cancels the owner's wait, whose AbortError
    // comes back as the reply. Were it not cancelled, the wait would time out and resolve false.
    const waiting = m.waitAsync({ signal: controller.signal, timeoutMs: 20_000 });
    const reason = new Error('stop');
    controller.abort(reason);
    const err = await waiting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toBe(reason);
    await expect(m.waitAsync({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });

  it('the owner disposer closes the channel: pending and later calls reject with ENODEV', async () => {
    const { tb, client, dispose } = setup();
    const m = await client.map(0);
    const pending = m.waitAsync();
    dispose();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceBufferError);
    expect((err as TraceBufferError).code).toBe('ENODEV');
    expect(client.closed).toBe(true);
    expect(m.mapped).toBe(false);
    expect(tb.cpuBuffer(0).mappings()).toBe(0);
    await expect(client.stats(0)).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(m.ioctl(TRACE_MMAP_IOCTL_GET_READER)).rejects.toMatchObject({ code: 'ENODEV' });
    await m.unmap(); // nothing left to unmap: resolves
  });
});

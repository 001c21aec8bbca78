/**
 * Bad input (issue 2): a TraceBufferError with a kernel-style code, and nothing changed.
 */
import { TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, TraceBufferError, type TraceBufferOptions } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';
import { codeOf } from './support/errors.js';

describe('create() rejects bad options with EINVAL', () => {
  const bad: [string, unknown][] = [
    ['subbufSize not a power of two', { subbufSize: 6000 }],
    ['subbufSize below 4096', { subbufSize: 2048 }],
    ['subbufSize above 1 MiB', { subbufSize: 2 * 1024 * 1024 }],
    ['subbufSize not a number', { subbufSize: '4096' }],
    ['nrSubbufs below 3', { nrSubbufs: 2 }],
    ['nrSubbufs not an integer', { nrSubbufs: 4.5 }],
    ['cpus below 1', { cpus: 0 }],
    ['cpus not an integer', { cpus: 1.5 }],
    ['bufferPercent above 100', { bufferPercent: 101 }],
    ['bufferPercent below 0', { bufferPercent: -1 }],
    ['readerPaceNs negative', { readerPaceNs: -1 }],
    ['readerPaceNs above 100000', { readerPaceNs: 100_001 }],
    ['readerPaceNs not an integer', { readerPaceNs: 0.5 }],
    ['unknown clock', { clock: 'tsc' }],
    ['overwrite not a boolean', { overwrite: 1 }],
    ['unknown option', { subBufSize: 4096 }],
    ['options not an object', 42],
  ];
  it.each(bad)('%s', (_, options) => {
    const err = catchError(() => TraceBuffer.create(options as TraceBufferOptions));
    expect(err).toBeInstanceOf(TraceBufferError);
    expect(err.code).toBe('EINVAL');
    // The message names the value: `what is wrong: name=value`.
    expect(err.message).toMatch(/: \w+=/);
  });

  it('accepts the limits', () => {
    expect(TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 3, bufferPercent: 0 }).config.nrSubbufs).toBe(3);
    expect(TraceBuffer.create({ cpus: 1, subbufSize: 1 << 20, nrSubbufs: 3, bufferPercent: 100 }).config.subbufSize).toBe(1 << 20);
  });

  it('keeps readerPaceNs (0, the default, is no pacing) across attach', () => {
    const tb = TraceBuffer.create({ cpus: 1, readerPaceNs: 2000 });
    expect(TraceBuffer.attach(tb.handle).config.readerPaceNs).toBe(2000);
    expect(TraceBuffer.create({ cpus: 1, readerPaceNs: 100_000 }).config.readerPaceNs).toBe(100_000);
  });

  it('fills in the documented defaults', () => {
    const c = TraceBuffer.create({ cpus: 1 }).config;
    expect(c).toEqual({ cpus: 1, maxCpus: 128, subbufSize: 4096, nrSubbufs: 256, overwrite: true, clock: 'mono', bufferPercent: 50, maxBytesPerCpu: 8 << 20, readerPaceNs: 0 });
  });
});

describe('calls reject bad arguments and change nothing', () => {
  function setup() {
    // maxCpus = cpus: the slots are capped, so a third claim is EBUSY and cpu 2 is out of range.
    const tb = TraceBuffer.create({ cpus: 2, maxCpus: 2, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    p.write(seqPayload(20, 1));
    return { tb, p };
  }

  it('payload longer than subbufSize − 24: EINVAL, nothing written, counters unchanged', () => {
    const { tb, p } = setup();
    const before = tb.stats(0);
    expect(codeOf(() => p.write(new Uint8Array(4073)))).toBe('EINVAL');
    expect(codeOf(() => p.reserve(5000))).toBe('EINVAL');
    expect(codeOf(() => p.reserve(-1))).toBe('EINVAL');
    expect(codeOf(() => p.reserve(1.5))).toBe('EINVAL');
    const after = tb.stats(0);
    expect({ ...after, nowTs: 0 }).toEqual({ ...before, nowTs: 0 });
    // The producer still works.
    expect(p.write(seqPayload(20, 2))).toBe(true);
    expect(tb.stats(0).entries).toBe(2);
  });

  it('cpu out of range in producer, map, stats, reset: EINVAL', () => {
    const { tb } = setup();
    for (const cpu of [-1, 2, 1.5, Number.NaN]) {
      expect(codeOf(() => tb.producer(cpu))).toBe('EINVAL');
      expect(codeOf(() => tb.map(cpu))).toBe('EINVAL');
      expect(codeOf(() => tb.stats(cpu))).toBe('EINVAL');
      expect(codeOf(() => tb.reset(cpu))).toBe('EINVAL');
    }
    // A rejected map left no mapping behind.
    expect(tb.cpuBuffer(0).mappings()).toBe(0);
  });

  it('subbuf(id) outside 0..nrSubbufs−1: EINVAL', () => {
    const { tb } = setup();
    const m = tb.map(0);
    for (const id of [-1, 4, 0.5]) expect(codeOf(() => m.subbuf(id))).toBe('EINVAL');
    expect(m.subbuf(3)).toHaveLength(4096);
  });

  it('slot already claimed: EBUSY; released slots can be claimed again', () => {
    const { tb, p } = setup();
    expect(codeOf(() => tb.producer(0))).toBe('EBUSY');
    const q = tb.producer();
    expect(q.cpu).toBe(1);
    expect(codeOf(() => tb.producer())).toBe('EBUSY');
    p.release();
    const again = tb.producer();
    expect(again.cpu).toBe(0);
    // The new claim continues the ring.
    expect(again.write(seqPayload(20, 3))).toBe(true);
    expect(tb.stats(0).entries).toBe(2);
  });

  it('a released producer refuses to write', () => {
    const { p } = setup();
    p.release();
    expect(codeOf(() => p.write(seqPayload(20, 1)))).toBe('EINVAL');
  });

  it('unknown ioctl: ENOTTY; ioctl after unmap: ENODEV; ioctl(0) wakes and returns 0', () => {
    const { tb } = setup();
    const m = tb.map(0);
    expect(codeOf(() => m.ioctl(0x5221))).toBe('ENOTTY');
    expect(codeOf(() => m.ioctl(Number.NaN))).toBe('ENOTTY');
    expect(m.ioctl(0)).toBe(0);
    m.unmap();
    expect(codeOf(() => m.ioctl(TRACE_MMAP_IOCTL_GET_READER))).toBe('ENODEV');
    expect(tb.cpuBuffer(0).mappings()).toBe(0);
  });

  it('a handle that is not one: EINVAL', () => {
    const { tb } = setup();
    const h = tb.handle;
    const notHandles: unknown[] = [
      null,
      {},
      { ...h, kind: 'other' },
      { ...h, version: 3 },
      { ...h, global: new SharedArrayBuffer(8) },
      { ...h, cpus: h.cpus.slice(1) },
      { ...h, cpus: [h.cpus[0], { banks: [{ data: new SharedArrayBuffer(16), control: h.cpus[1]!.banks[0]!.control }, h.cpus[1]!.banks[1]] }] },
      { ...h, version: 1 },
      { ...h, config: { ...h.config, subbufSize: 3 } },
    ];
    for (const bad of notHandles) expect(codeOf(() => TraceBuffer.attach(bad as typeof h))).toBe('EINVAL');
  });
});

function catchError(fn: () => unknown): TraceBufferError {
  try {
    fn();
  } catch (err) {
    return err as TraceBufferError;
  }
  throw new Error('did not throw');
}

/**
 * The kernel's exclusion rules (kernel-semantics §5.7, selftest snapshot.excludes_map and
 * snapshot.excluded_by_map): while any CPU buffer is mapped, taking or arming a snapshot is
 * EBUSY; while a snapshot is armed, map() is EBUSY; while a CPU buffer is mapped, resizing it and
 * changing the sub-buffer size are EBUSY, other CPUs can still be resized; the last unmap lifts
 * the block. A rejected call changes nothing.
 */
import { TraceBuffer } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';
import { codeOf } from './support/errors.js';

const create = () => TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 4 });

describe('snapshot versus mapping', () => {
  it('snapshot.excludes_map: map() is EBUSY while a snapshot is armed', () => {
    const tb = create();
    tb.armSnapshot();
    expect(codeOf(() => tb.map(0))).toBe('EBUSY');
    expect(codeOf(() => tb.map(1))).toBe('EBUSY');
    tb.armSnapshot();
    tb.disarmSnapshot();
    expect(codeOf(() => tb.map(0))).toBe('EBUSY');
    tb.disarmSnapshot();
    expect(tb.map(0).mapped).toBe(true);
    expect(codeOf(() => tb.disarmSnapshot())).toBe('EINVAL');
  });

  it('snapshot.excluded_by_map: arming and taking a snapshot are EBUSY while any cpu is mapped', () => {
    const tb = create();
    const p = tb.producer(0);
    p.write(seqPayload(16, 1));
    const m = tb.map(1);
    expect(codeOf(() => tb.armSnapshot())).toBe('EBUSY');
    expect(codeOf(() => tb.snapshot())).toBe('EBUSY');
    // Nothing changed: not armed, the data still live.
    expect(tb.snapshotArmed).toBe(0);
    expect(tb.stats(0).entries).toBe(1);
    m.unmap();
    const s = tb.snapshot();
    expect(s.stats(0).entries).toBe(1);
  });

  it('two mappings of one cpu share the meta page; unmapping one keeps the other; the last unmap lifts the blocks', () => {
    const tb = create();
    const a = tb.map(0);
    const b = tb.map(0);
    tb.producer(0).write(seqPayload(16, 1));
    a.ioctl(0x5220);
    expect(b.meta.reader.id).toBe(a.meta.reader.id);
    a.unmap();
    expect(b.ioctl(0x5220)).toBe(0);
    expect(codeOf(() => tb.snapshot())).toBe('EBUSY');
    expect(codeOf(() => tb.resize({ nrSubbufs: 6, cpu: 0 }))).toBe('EBUSY');
    b.unmap();
    tb.resize({ nrSubbufs: 6, cpu: 0 });
    expect(tb.geometry(0).nrSubbufs).toBe(6);
    expect(tb.snapshot().isSnapshot).toBe(true);
  });
});

describe('resize versus mapping', () => {
  it('resizing a mapped cpu is EBUSY, another cpu can be resized, all-cpu resize is EBUSY', () => {
    const tb = create();
    const m = tb.map(0);
    expect(codeOf(() => tb.resize({ nrSubbufs: 8, cpu: 0 }))).toBe('EBUSY');
    expect(codeOf(() => tb.resize({ nrSubbufs: 8 }))).toBe('EBUSY');
    expect(tb.geometry(1).nrSubbufs).toBe(4);
    tb.resize({ nrSubbufs: 8, cpu: 1 });
    expect(tb.geometry(1).nrSubbufs).toBe(8);
    expect(tb.geometry(0).nrSubbufs).toBe(4);
    m.unmap();
    tb.resize({ nrSubbufs: 5 });
    expect([tb.geometry(0).nrSubbufs, tb.geometry(1).nrSubbufs]).toEqual([5, 5]);
  });

  it('changing the sub-buffer size is EBUSY while any cpu is mapped', () => {
    const tb = create();
    const m = tb.map(1);
    expect(codeOf(() => tb.setSubbufSize(8192))).toBe('EBUSY');
    expect(tb.geometry(0).subbufSize).toBe(4096);
    m.unmap();
    tb.setSubbufSize(8192);
    expect(tb.geometry(0).subbufSize).toBe(8192);
  });

  it('rejects bad arguments with EINVAL and growth beyond maxBytesPerCpu with ENOMEM, changing nothing', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, maxBytesPerCpu: 64 * 4096 });
    for (const bad of [2, 3.5, Number.NaN]) expect(codeOf(() => tb.resize({ nrSubbufs: bad }))).toBe('EINVAL');
    expect(codeOf(() => tb.resize({ nrSubbufs: 8, cpu: 1 }))).toBe('EINVAL');
    expect(codeOf(() => tb.resize({ nrSubbufs: 64 }))).toBe('ENOMEM');
    expect(codeOf(() => tb.setSubbufSize(6000))).toBe('EINVAL');
    expect(codeOf(() => tb.setSubbufSize(1 << 21))).toBe('EINVAL');
    expect(tb.geometry(0)).toEqual({ subbufSize: 4096, nrSubbufs: 4 });
    tb.resize({ nrSubbufs: 63 });
    expect(tb.geometry(0).nrSubbufs).toBe(63);
  });
});

describe('a snapshot is read-only', () => {
  it('refuses producers, snapshots, arming and resizes with EPERM', () => {
    const tb = create();
    const s = tb.snapshot();
    expect(codeOf(() => s.producer())).toBe('EPERM');
    expect(codeOf(() => s.snapshot())).toBe('EPERM');
    expect(codeOf(() => s.armSnapshot())).toBe('EPERM');
    expect(codeOf(() => s.resize({ nrSubbufs: 8 }))).toBe('EPERM');
    expect(codeOf(() => s.setSubbufSize(8192))).toBe('EPERM');
  });
});

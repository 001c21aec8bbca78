/**
 * The kernel selftest tools/testing/selftests/ring-buffer/map_test.c (kernel-semantics §8), on our API:
 * map.meta_page_check and map.data_mmap, each for 4 KiB and 8 KiB sub-buffers.
 * (snapshot.excludes_map / excluded_by_map come with snapshots.)
 */
import { TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, TraceBufferError } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';
import { codeOf } from './support/errors.js';

describe.each([4, 8])('map selftest with %i KiB sub-buffers', (kb) => {
  const subbufSize = kb * 1024;

  it('map.meta_page_check', () => {
    const tb = TraceBuffer.create({ cpus: 2, subbufSize, nrSubbufs: 8 });
    const m = tb.map(1);
    const fresh = m.meta;
    expect(fresh.metaPageSize).toBe(subbufSize);
    expect(fresh.metaStructLen).toBe(80);
    expect(fresh.subbufSize).toBe(subbufSize);
    expect(fresh.nrSubbufs).toBe(8);
    expect([fresh.entries, fresh.overrun, fresh.read, fresh.reader.id, fresh.reader.read]).toEqual([0, 0, 0, 0, 0]);

    expect(m.ioctl(TRACE_MMAP_IOCTL_GET_READER)).toBe(0);
    expect(m.meta.reader.id).toBe(0);

    const p = tb.producer(1);
    for (let i = 0; i < 16; i++) expect(p.write(new TextEncoder().encode(String(i)))).toBe(true);
    expect(m.ioctl(TRACE_MMAP_IOCTL_GET_READER)).toBe(0);
    const after = m.meta;
    expect([after.entries, after.overrun, after.read, after.reader.id]).toEqual([16, 0, 16, 1]);

    expect(m.ioctl(TRACE_MMAP_IOCTL_GET_READER)).toBe(0);
    const again = m.meta;
    expect([again.entries, again.overrun, again.read, again.reader.id]).toEqual([16, 0, 16, 1]);
    p.release();
    m.unmap();
  });

  it('map.data_mmap', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize, nrSubbufs: 6 });
    const metaLen = tb.map(0).meta.metaPageSize;
    const dataLen = subbufSize * 6;
    expect(tb.map(0, { offset: metaLen, length: dataLen }).bytes.length).toBe(dataLen);
    expect(tb.map(0, { offset: metaLen, length: dataLen - subbufSize }).bytes.length).toBe(dataLen - subbufSize);
    const overflow = (): unknown => tb.map(0, { offset: metaLen + 2 * subbufSize, length: dataLen - subbufSize });
    expect(overflow).toThrow(TraceBufferError);
    expect(codeOf(overflow)).toBe('EINVAL');
    expect(codeOf(() => tb.map(0, { offset: dataLen + 2 * subbufSize, length: dataLen }))).toBe('EINVAL');
    expect(codeOf(() => tb.map(0, { offset: 0, length: 0 }))).toBe('EINVAL');
    expect(codeOf(() => tb.map(0, { offset: 4096 + (kb > 4 ? 0 : 1), length: 4096 }))).toBe('EINVAL');

    // The meta page is padded with zeros up to meta_page_size.
    const meta = tb.map(0, { offset: 0, length: metaLen });
    const words = new Uint32Array(meta.bytes.buffer, meta.bytes.byteOffset, metaLen / 4);
    const structWords = meta.meta.metaStructLen / 4;
    expect(words.subarray(structWords).every((w) => w === 0)).toBe(true);
    // Sub-buffers appear in id order after the meta page.
    const p = tb.producer(0);
    p.write(seqPayload(32, 7));
    const whole = tb.map(0);
    whole.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const id = whole.meta.reader.id;
    expect(whole.subbufOffset(id)).toBe(metaLen + id * subbufSize);
    const ranged = tb.map(0, { offset: metaLen + id * subbufSize, length: subbufSize });
    expect(ranged.subbuf(id)).toEqual(whole.subbuf(id));
  });
});

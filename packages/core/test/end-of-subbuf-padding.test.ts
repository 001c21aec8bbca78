/**
 * End of a sub-buffer (kernel-semantics §2.5, verified §10 items 4 and 8): when the next event does not
 * fit, 8 or more spare bytes become a discarded padding event inside the commit (type 29,
 * time_delta 1, array[0] = spare − 4); 4 spare bytes get a null padding word outside the commit;
 * an exactly full sub-buffer gets nothing.
 */
import { EventType, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';

const DATA = 4080;

function firstSubbufAfter(payloads: readonly number[]) {
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
  const m = tb.map(0);
  const p = tb.producer(0);
  payloads.forEach((len, i) => p.write(seqPayload(len, i)));
  m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
  const id = m.meta.reader.id;
  const view = new DataView(m.bytes.buffer, m.subbufOffset(id));
  return { commit: view.getUint32(8, true), word: (dataOffset: number) => view.getUint32(16 + dataOffset, true), m };
}

describe('end-of-sub-buffer padding', () => {
  it('writes a discarded padding event inside the commit when 8 or more bytes are left', () => {
    // 36 events of 112 bytes use 4032 bytes: 48 spare; the 37th goes to the next sub-buffer.
    const { commit, word } = firstSubbufAfter(Array(37).fill(108));
    expect(commit).toBe(DATA);
    const header = word(4032);
    expect(header & 0x1f).toBe(EventType.PADDING);
    expect(header >>> 5).toBe(1);
    expect(word(4036)).toBe(48 - 4);
  });

  it('writes a 4-byte null padding outside the commit when 4 bytes are left', () => {
    // 19 events of 212 bytes (204-byte payloads, long form) and one of 48 use 4076 bytes.
    const lengths = [...Array(19).fill(204), 44];
    const used = 19 * 212 + 48;
    expect(used).toBe(DATA - 4);
    const { commit, word } = firstSubbufAfter([...lengths, 12]);
    expect(commit).toBe(DATA - 4);
    expect(word(DATA - 4)).toBe(EventType.PADDING);
  });

  it('leaves an exactly full sub-buffer alone', () => {
    // 51 events of 80 bytes (76-byte payloads) fill 4080 bytes exactly.
    const { commit } = firstSubbufAfter([...Array(51).fill(76), 12]);
    expect(commit).toBe(DATA);
  });

  it('fills a sub-buffer with one event of the largest payload', () => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4 });
    const p = tb.producer(0);
    expect(p.maxPayload).toBe(4072);
    expect(p.write(new Uint8Array(4072))).toBe(true);
    const m = tb.map(0);
    m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    expect(m.meta.reader.read).toBe(DATA);
  });
});

/**
 * Test helpers: payloads that carry a sequence number, and a GET_READER drain loop that records
 * what every call handed out.
 */
import { type Mapping, SubbufReader, TRACE_MMAP_IOCTL_GET_READER } from '@tracebuf/core';

/** A payload of `length` bytes whose bytes 8..11 hold `seq` (little-endian) when there is room. */
export function seqPayload(length: number, seq: number): Uint8Array {
  const p = new Uint8Array(length);
  for (let i = 0; i < length; i++) p[i] = (seq + i) & 0xff;
  if (length >= 12) new DataView(p.buffer).setUint32(8, seq, true);
  return p;
}

/** Reads the sequence number back from a payload written by {@link seqPayload}. */
export function payloadSeq(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset + 8, true);
}

/** What one GET_READER call handed out. */
export interface ReaderCall {
  readonly id: number;
  readonly read: number;
  readonly start: number;
  readonly commitLength: number;
  readonly missed: boolean;
  readonly lost: number;
  readonly events: number;
  readonly seqs: number[];
  readonly timestamps: number[];
}

/**
 * Drains a mapping: GET_READER until a call hands out nothing new. `state` carries the last
 * (id, read) between drains, as the consumer loop of kernel-semantics §5.6 does.
 */
export function drain(
  m: Mapping,
  state: { id: number; read: number } = { id: m.meta.reader.id, read: m.meta.reader.read },
  withSeq = true,
): ReaderCall[] {
  const calls: ReaderCall[] = [];
  const r = new SubbufReader();
  for (;;) {
    expectZero(m.ioctl(TRACE_MMAP_IOCTL_GET_READER));
    const { id, read } = m.meta.reader;
    const start = id === state.id ? state.read : 0;
    if (id === state.id && read === state.read) break;
    if (read < start) {
      // Reset while mapped: the reader sub-buffer restarted.
      state.id = id;
      state.read = read;
      continue;
    }
    r.load(m.bytes, m.subbufOffset(id), start, read);
    const seqs: number[] = [];
    const timestamps: number[] = [];
    while (r.next()) {
      if (withSeq && r.payloadLength >= 12) seqs.push(payloadSeq(m.bytes, r.payloadOffset));
      timestamps.push(r.timestamp);
    }
    calls.push({
      id,
      read,
      start,
      commitLength: r.commitLength,
      missed: start === 0 && r.missedEvents,
      lost: start === 0 ? r.lostEvents : 0,
      events: timestamps.length,
      seqs,
      timestamps,
    });
    state.id = id;
    state.read = read;
  }
  return calls;
}

function expectZero(rc: number): void {
  if (rc !== 0) throw new Error(`ioctl returned ${rc}`);
}

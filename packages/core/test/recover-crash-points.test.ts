/**
 * A producer that dies inside its critical section — simulated exactly by an interleaving hook
 * that throws at that point, which leaves the shared state as a killed thread would — is taken
 * back by `recover()` with every counter exact: committed == overrun + read after a full drain,
 * the event being written is never visible, and a new producer continues the ring.
 */
import { type InterleavePointName, InterleavePoint, TraceBuffer, setInterleaveHook } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seqPayload } from './support/drain.js';

afterEach(() => setInterleaveHook(undefined));

class Crash extends Error {}

function crashAt(point: InterleavePointName, after: number): void {
  let seen = 0;
  setInterleaveHook((p) => {
    if (p === point && ++seen === after) {
      setInterleaveHook(undefined);
      throw new Crash(`simulated death at ${point}`);
    }
  });
}

describe.each([true, false])('overwrite=%s', (overwrite) => {
  it.each([
    [InterleavePoint.PRODUCER_PUBLISH, 150],
    [InterleavePoint.PRODUCER_MOVE_TAIL, 3],
    [InterleavePoint.PRODUCER_PUSH_UPDATE, 3],
    [InterleavePoint.PRODUCER_ENTER_PAGE, 2],
  ])('a death at %s (occurrence %i) is recovered exactly', (point, after) => {
    const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 4, overwrite });
    const p = tb.producer(0);
    let committed = 0;
    let seq = 0;
    let died = false;
    crashAt(point, after);
    try {
      for (; seq < 1000; ) if (p.write(seqPayload(60, ++seq))) committed++;
    } catch (err) {
      expect(err).toBeInstanceOf(Crash);
      died = true;
    }
    if (!overwrite && point === InterleavePoint.PRODUCER_PUSH_UPDATE) {
      // Producer/consumer mode never pushes the head.
      expect(died).toBe(false);
      return;
    }
    expect(died).toBe(true);
    expect(tb.recover(0)).toBe(true);

    const seqs: number[] = [];
    tb.drainTo((_c, _t, payload) => seqs.push(new DataView(payload.buffer, payload.byteOffset).getUint32(8, true)));
    const s = tb.stats(0);
    expect(s.committed).toBe(committed);
    expect(s.readEvents).toBe(seqs.length);
    expect(s.committed).toBe(s.overrun + s.readEvents);
    expect(s.entries).toBe(0);
    // The event being written when the producer died is never visible; the others are in order.
    expect(seqs).not.toContain(seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    if (!overwrite) expect(seqs).toEqual(Array.from({ length: committed }, (_, i) => i + 1));

    // A new producer claims the slot and continues; its events come out whole.
    const q = tb.producer(0);
    let kept = 0;
    for (let i = 1; i <= 300; i++) if (q.write(seqPayload(60, 10_000 + i))) kept++;
    const after2: number[] = [];
    tb.drainTo((_c, _t, payload) => after2.push(new DataView(payload.buffer, payload.byteOffset).getUint32(8, true)));
    const s2 = tb.stats(0);
    expect(s2.committed).toBe(s2.overrun + s2.readEvents);
    // Overwrite keeps the newest; producer/consumer mode keeps the oldest that fit.
    if (overwrite) expect(after2.at(-1)).toBe(10_300);
    else expect(after2).toEqual(Array.from({ length: kept }, (_, i) => 10_001 + i));
  });
});

/**
 * 64-bit counters in shared memory as a (low, high) pair of 32-bit words.
 *
 * Every counter has one writing side, and that side only changes it inside its own critical
 * section: the producer inside its publish sequence (odd `wseq`), readers under the reader lock.
 * A reader of the other side's counters reads them inside a seqlock round, so a torn pair is
 * never used. Values stay exact up to 2^53.
 *
 * @packageDocumentation
 */

const TWO_32 = 4294967296;

/** Reads the pair at `index` (plain loads; call inside a seqlock round or under the owner's lock). */
export function read64(words: Int32Array, index: number): number {
  return (words[index + 1]! >>> 0) * TWO_32 + (words[index]! >>> 0);
}

/** Stores `value` (0 ≤ value < 2^53) into the pair at `index` with plain stores. */
export function write64(words: Int32Array, index: number, value: number): void {
  words[index] = value | 0;
  words[index + 1] = (value / TWO_32) | 0;
}

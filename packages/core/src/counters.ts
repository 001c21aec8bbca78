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

/** {@link write64} with `Atomics.store` (for words a crash recovery or a weakly ordered reader checks). */
export function store64(words: Int32Array, index: number, value: number): void {
  Atomics.store(words, index, value | 0);
  Atomics.store(words, index + 1, (value / TWO_32) | 0);
}

/** {@link read64} with `Atomics.load`. */
export function load64(words: Int32Array, index: number): number {
  return (Atomics.load(words, index + 1) >>> 0) * TWO_32 + (Atomics.load(words, index) >>> 0);
}

/**
 * True where the CPU keeps stores in program order (x86 TSO): there the producer's publish
 * sequence may use plain stores between its two `Atomics` stores of `wseq`. Elsewhere (ARM64,
 * ...) the words a reader validates with the seqlock are stored with `Atomics.store` too.
 */
export const STORES_IN_ORDER = process.arch === 'x64' || process.arch === 'ia32';

/**
 * Stores a word a reader validates with the producer's seqlock: plain where stores stay in
 * order ({@link STORES_IN_ORDER}), `Atomics.store` elsewhere.
 */
export function put(words: Int32Array, index: number, value: number): void {
  if (STORES_IN_ORDER) words[index] = value;
  else Atomics.store(words, index, value);
}

/** {@link put} for a 64-bit pair. */
export function put64(words: Int32Array, index: number, value: number): void {
  if (STORES_IN_ORDER) write64(words, index, value);
  else store64(words, index, value);
}

/**
 * Loads a word a reader validates with a seqlock (between two `Atomics.load`s of the sequence):
 * plain where loads stay in order ({@link STORES_IN_ORDER}: x86 keeps loads in order and V8 does
 * not move memory operations across atomic ones), `Atomics.load` elsewhere.
 */
export function get(words: Int32Array, index: number): number {
  return STORES_IN_ORDER ? words[index]! : Atomics.load(words, index);
}

/** {@link get} for a 64-bit pair. */
export function get64(words: Int32Array, index: number): number {
  return STORES_IN_ORDER ? read64(words, index) : load64(words, index);
}

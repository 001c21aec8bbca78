/**
 * The kernel's event size arithmetic (kernel-semantics §2.3) and header encoding.
 *
 * @packageDocumentation
 */
import {
  EVENT_ALIGNMENT,
  EVENT_HEADER_LENGTH,
  LONG_EVENT_OVERHEAD_LENGTH,
  SHORT_PAYLOAD_MAX_LENGTH,
  TIME_DELTA_BITS,
} from './layout.js';

/**
 * Total bytes a data event with a payload of `payloadLength` bytes occupies, excluding any
 * TIME_EXTEND in front of it: the kernel's `rb_calculate_event_length`.
 *
 * 0 counts as 1; above 112 bytes the long form adds the 4-byte length word; the header word
 * adds 4; the sum is rounded up to 4; and a total of exactly 12 becomes 16 (so that the space can
 * always be turned into an extend plus padding).
 */
export function eventLength(payloadLength: number): number {
  let length = payloadLength === 0 ? 1 : payloadLength;
  if (length > SHORT_PAYLOAD_MAX_LENGTH) length += EVENT_HEADER_LENGTH;
  length += EVENT_HEADER_LENGTH;
  length = (length + EVENT_ALIGNMENT - 1) & ~(EVENT_ALIGNMENT - 1);
  return length === 12 ? 16 : length;
}

/** `type_len` of a data event of total length `length` (0 means the long form). */
export function dataTypeLen(length: number): number {
  const data = length - EVENT_HEADER_LENGTH;
  return data > SHORT_PAYLOAD_MAX_LENGTH ? 0 : data >>> 2;
}

/** Byte offset of the payload in a data event of total length `length`. */
export function payloadOffset(length: number): number {
  return length - EVENT_HEADER_LENGTH > SHORT_PAYLOAD_MAX_LENGTH ? LONG_EVENT_OVERHEAD_LENGTH : EVENT_HEADER_LENGTH;
}

/** Builds a header word (as a signed 32-bit integer, ready for an `Int32Array`). */
export function headerWord(typeLen: number, timeDelta: number): number {
  return typeLen | (timeDelta << 5);
}

/** 2^27: the unit of `array[0]` of a TIME_EXTEND or TIME_STAMP. */
export const TIME_EXTEND_UNIT = 2 ** TIME_DELTA_BITS;
/** 2^59: the range of a TIME_STAMP. */
export const TIME_STAMP_RANGE = 2 ** 59;

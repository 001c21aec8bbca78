/**
 * Walks the events of one sub-buffer in the kernel byte format — what tracebuf writes and what
 * the kernel's `trace_pipe_raw` hands out — without allocating per event.
 *
 * @packageDocumentation
 */
import { invalid } from './errors.js';
import { TIME_EXTEND_UNIT, TIME_STAMP_RANGE } from './event.js';
import {
  COMMIT_LENGTH_MASK,
  EVENT_ARRAY0_OFFSET,
  EVENT_HEADER_LENGTH,
  EventType,
  MISSED_COUNT_LENGTH,
  RB_MISSED_EVENTS,
  RB_MISSED_STORED,
  SUBBUF_COMMIT_OFFSET,
  SUBBUF_DATA_OFFSET,
  SUBBUF_TIME_STAMP_OFFSET,
  TIME_EVENT_LENGTH,
  TYPE_DATA_MAX,
  TYPE_LEN_MASK,
} from './layout.js';

/** Sentinel of {@link SubbufReader.lostEvents}: events were lost but their number is unknown. */
export const LOST_EVENTS_UNKNOWN = -1;

/**
 * A cursor over the events of one sub-buffer. `load()` it on a sub-buffer, then call `next()`
 * until it returns `false`; after each `true` the fields describe the current data event. One
 * reader can be reused for any number of sub-buffers.
 *
 * ```ts
 * const r = new SubbufReader();
 * r.load(mapping.bytes, mapping.subbufOffset(id));
 * while (r.next()) use(r.timestamp, r.bytes.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength));
 * ```
 */
export class SubbufReader {
  /** The memory the sub-buffer lives in. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Timestamp of the first event of the sub-buffer (its header `time_stamp`). */
  pageTimeStamp = 0;
  /** Committed length of the data area (flags removed). */
  commitLength = 0;
  /** True when events were lost before this sub-buffer (commit bit 31). */
  missedEvents = false;
  /** Lost events before this sub-buffer: 0 none, a count, or {@link LOST_EVENTS_UNKNOWN}. */
  lostEvents = 0;

  /** Timestamp of the current event. */
  timestamp = 0;
  /** `type_len` of the current event (0 = long form, 1..28 short form). */
  typeLen = 0;
  /** Byte offset of the current event in the data area. */
  eventOffset = 0;
  /** Total bytes of the current event (header included). */
  eventLength = 0;
  /** Byte offset of the current payload in {@link bytes}. */
  payloadOffset = 0;
  /** Payload capacity of the current event (a multiple of 4: the kernel pads payloads). */
  payloadLength = 0;

  #view: DataView = new DataView(new ArrayBuffer(0));
  #data = 0;
  #cursor = 0;
  #end = 0;

  /**
   * Points the reader at the sub-buffer starting at byte `subbufOffset` of `bytes`. Events
   * before data offset `from` are walked (to rebuild the running timestamp) but not returned;
   * the walk stops at `to` (default: the committed length).
   */
  load(bytes: Uint8Array, subbufOffset = 0, from = 0, to = -1): this {
    if (subbufOffset < 0 || subbufOffset + SUBBUF_DATA_OFFSET > bytes.length) {
      invalid('sub-buffer offset outside the bytes', 'subbufOffset', subbufOffset);
    }
    if (this.bytes !== bytes) {
      this.bytes = bytes;
      this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    const v = this.#view;
    const stampAt = subbufOffset + SUBBUF_TIME_STAMP_OFFSET;
    this.pageTimeStamp = v.getUint32(stampAt + 4, true) * 4294967296 + v.getUint32(stampAt, true);
    const commit = v.getUint32(subbufOffset + SUBBUF_COMMIT_OFFSET, true);
    const maxData = (this.subbufSize > 0 ? Math.min(this.subbufSize, bytes.length - subbufOffset) : bytes.length - subbufOffset) - SUBBUF_DATA_OFFSET;
    if (this.strict && (commit & COMMIT_LENGTH_MASK) > maxData) {
      invalid(`sub-buffer commit length ${commit & COMMIT_LENGTH_MASK} is beyond its data area (${maxData} bytes)`, 'offset', this.fileOffset + subbufOffset + SUBBUF_COMMIT_OFFSET);
    }
    this.commitLength = Math.min(commit & COMMIT_LENGTH_MASK, maxData);
    this.missedEvents = (commit & RB_MISSED_EVENTS) !== 0;
    this.lostEvents = 0;
    this.corrupt = false;
    if (this.missedEvents) {
      this.lostEvents = LOST_EVENTS_UNKNOWN;
      const countAt = subbufOffset + SUBBUF_DATA_OFFSET + this.commitLength;
      if ((commit & RB_MISSED_STORED) !== 0 && countAt + MISSED_COUNT_LENGTH <= bytes.length) {
        this.lostEvents = v.getUint32(countAt + 4, true) * 4294967296 + v.getUint32(countAt, true);
      }
    }
    this.#data = subbufOffset + SUBBUF_DATA_OFFSET;
    this.#end = to < 0 ? this.commitLength : Math.min(to, this.commitLength);
    this.#cursor = 0;
    this.timestamp = this.pageTimeStamp;
    while (this.#cursor < from && this.next()) {
      /* rebuild the running timestamp up to `from` */
    }
    return this;
  }

  /** Data offset where the walk stands (the end of the last event returned). */
  get position(): number {
    return this.#cursor;
  }

  /** Advances to the next data event. Returns `false` at the end of the committed data. */
  next(): boolean {
    const v = this.#view;
    const end = this.#end;
    while (this.#cursor + EVENT_HEADER_LENGTH <= end) {
      const at = this.#data + this.#cursor;
      const word = v.getUint32(at, true);
      const typeLen = word & TYPE_LEN_MASK;
      const delta = word >>> 5;
      if (typeLen <= TYPE_DATA_MAX) {
        let length: number;
        let payload: number;
        if (typeLen === 0) {
          if (this.#cursor + EVENT_ARRAY0_OFFSET + 4 > end) return this.#corrupt(at, 'a long event header runs past the committed data');
          // Rounded up to 4, as kbuffer reads it (the kernel writes multiples of 4 only); a word
          // below 4 cannot count itself and stays a length the check below rejects.
          const word = v.getUint32(at + EVENT_ARRAY0_OFFSET, true);
          length = (word < 4 ? word : word + ((4 - (word & 3)) & 3)) + EVENT_HEADER_LENGTH;
          payload = EVENT_ARRAY0_OFFSET + 4;
        } else {
          length = EVENT_HEADER_LENGTH + typeLen * 4;
          payload = EVENT_HEADER_LENGTH;
        }
        if (length < payload || this.#cursor + length > end) return this.#corrupt(at, `an event of ${length} bytes runs past the committed data`);
        this.timestamp += delta;
        this.typeLen = typeLen;
        this.eventOffset = this.#cursor;
        this.eventLength = length;
        this.payloadOffset = at + payload;
        this.payloadLength = length - payload;
        this.#cursor += length;
        return true;
      }
      if (typeLen === EventType.PADDING) {
        // Null padding (delta 0) ends the data; a discarded event is skipped.
        if (delta === 0) return this.#stop();
        if (this.#cursor + TIME_EVENT_LENGTH > end) return this.#corrupt(at, 'a padding record runs past the committed data');
        const length = v.getUint32(at + EVENT_ARRAY0_OFFSET, true) + EVENT_HEADER_LENGTH;
        if (length < TIME_EVENT_LENGTH) return this.#corrupt(at, `a padding record has a length word below ${TIME_EVENT_LENGTH}`);
        this.#cursor += length;
        continue;
      }
      if (this.#cursor + TIME_EVENT_LENGTH > end) return this.#corrupt(at, 'a time record runs past the committed data');
      const high = v.getUint32(at + EVENT_ARRAY0_OFFSET, true);
      if (typeLen === EventType.TIME_EXTEND) {
        this.timestamp += high * TIME_EXTEND_UNIT + delta;
      } else {
        // TIME_STAMP: low 59 bits; the top bits come from the running timestamp.
        const low59 = high * TIME_EXTEND_UNIT + delta;
        let ts = this.timestamp - (this.timestamp % TIME_STAMP_RANGE) + low59;
        if (ts < this.timestamp - TIME_STAMP_RANGE / 2) ts += TIME_STAMP_RANGE;
        this.timestamp = ts;
      }
      this.#cursor += TIME_EVENT_LENGTH;
    }
    return this.#stop();
  }

  #stop(): false {
    this.#cursor = this.#end;
    return false;
  }

  #corrupt(at: number, what: string): false {
    if (this.strict) invalid(what, 'offset', this.fileOffset + at);
    this.corrupt = true;
    return this.#stop();
  }

  /**
   * Strict mode (for files and other untrusted bytes): a commit length beyond the data area or a
   * record that runs past the committed data throws `EINVAL` naming its offset (plus
   * {@link fileOffset}) instead of ending the walk with {@link corrupt} set.
   */
  strict = false;
  /** Added to offsets in strict mode's messages: where `bytes` starts in the file. */
  fileOffset = 0;
  /** The sub-buffer size when known (0: up to the end of `bytes`); bounds the commit length. */
  subbufSize = 0;

  /** True when the walk met an event that does not fit the committed data (the walk stops there). */
  corrupt = false;
}

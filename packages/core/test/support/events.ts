/** Checks events written by fixtures/producer-worker.mjs: (cpu, length, seq, checksum). */
export interface CheckedEvent {
  readonly cpu: number;
  readonly seq: number;
}

/** Decodes and verifies one payload; throws on a torn or corrupt event. */
export function checkEvent(bytes: Uint8Array, offset: number, capacity: number): CheckedEvent {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, capacity);
  const cpu = view.getUint32(0, true);
  const length = view.getUint32(4, true);
  const seq = view.getUint32(8, true);
  if (length > capacity || length < 16 || capacity - length >= 4) {
    throw new Error(`corrupt event: length=${length} capacity=${capacity} seq=${seq}`);
  }
  let sum = cpu ^ length ^ seq;
  for (let i = 16; i < length; i++) {
    const b = bytes[offset + i]!;
    if (b !== ((seq * 31 + i) & 0xff)) throw new Error(`corrupt payload byte ${i} of seq=${seq}`);
    sum = (sum + b) | 0;
  }
  if (view.getInt32(12, true) !== sum) throw new Error(`checksum mismatch: seq=${seq}`);
  return { cpu, seq };
}

/** Checks events written by the cross-thread fixtures: (cpu, length, seq, checksum). */
export { checkEvent } from '../fixtures/checked-event.mjs';

/** What {@link checkEvent} returns. */
export interface CheckedEvent {
  readonly cpu: number;
  readonly seq: number;
}

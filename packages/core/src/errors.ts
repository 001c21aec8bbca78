/**
 * Errors of tracebuf's cold paths.
 *
 * @packageDocumentation
 */

/** Kernel-style error codes a {@link TraceBufferError} carries. */
export const ErrorCode = {
  /** Invalid argument: a bad option, a payload too large, a cpu or id out of range. */
  EINVAL: 'EINVAL',
  /** Busy: the slot is claimed, snapshot versus mapping, resize while mapped. */
  EBUSY: 'EBUSY',
  /** No device: an ioctl on a mapping that was unmapped. */
  ENODEV: 'ENODEV',
  /** Unknown ioctl command. */
  ENOTTY: 'ENOTTY',
  /** Out of room: a resize beyond the per-cpu limits fixed at creation (`maxBytesPerCpu`). */
  ENOMEM: 'ENOMEM',
  /** Not permitted: writing to a snapshot. */
  EPERM: 'EPERM',
  /** Stale: a snapshot whose memory was reused by a later snapshot. */
  ESTALE: 'ESTALE',
  /** A wait timed out. */
  ETIMEDOUT: 'ETIMEDOUT',
  /** Exists: an event name registered again with other fields. */
  EEXIST: 'EEXIST',
  /** No room: the event registry is full. */
  ENOSPC: 'ENOSPC',
  /** An internal invariant broke; recording was turned off for that CPU buffer. */
  EFAULT: 'EFAULT',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The error every rejected tracebuf call throws. `code` is errno-style (`EINVAL`, `EBUSY`,
 * `ENODEV`, `ENOTTY`, ...) and the message has the form `what is wrong: name=value`.
 * A call that throws has changed nothing.
 */
export class TraceBufferError extends Error {
  /** Kernel-style error code. */
  readonly code: ErrorCodeName;

  constructor(code: ErrorCodeName, message: string) {
    super(`${code}: ${message}`);
    this.name = 'TraceBufferError';
    this.code = code;
  }
}

/** Formats `name=value` for error messages (strings quoted, objects summarised). */
export function showValue(name: string, value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'bigint') shown = `${value}n`;
  else if (value === null || typeof value !== 'object') shown = String(value);
  else shown = Object.prototype.toString.call(value);
  return `${name}=${shown}`;
}

/** Throws `EINVAL` with `what: name=value`. */
export function invalid(what: string, name: string, value: unknown): never {
  throw new TraceBufferError(ErrorCode.EINVAL, `${what}: ${showValue(name, value)}`);
}

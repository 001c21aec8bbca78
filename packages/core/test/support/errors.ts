/** The `code` of the TraceBufferError `fn` throws (a descriptive string for anything else). */
import { TraceBufferError } from '@tracebuf/core';

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof TraceBufferError ? err.code : `not a TraceBufferError: ${String(err)}`;
  }
  return undefined;
}

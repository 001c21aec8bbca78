/**
 * The buffer `tracebuf record` runs a script against. The script runs in a worker thread whose
 * `workerData` carries the buffer's handle; {@link recordingBuffer} attaches it (and gives
 * `undefined` when the script runs on its own, so one script works both ways).
 *
 * ```ts
 * import { recordingBuffer } from '@tracebuf/node';
 * const tb = recordingBuffer() ?? TraceBuffer.create();
 * ```
 *
 * @packageDocumentation
 */
import { workerData } from 'node:worker_threads';
import { TraceBuffer, type TraceBufferHandle } from '@tracebuf/core';

/** The key of the handle in the `workerData` of a script run by `tracebuf record`. */
export const RECORD_WORKER_DATA_KEY = 'tracebufRecord';

let attached: TraceBuffer | undefined;

/**
 * The buffer `tracebuf record` is recording, in this thread (attached once, then the same
 * object), or `undefined` outside a recording. Pass `tb.handle` on to any worker the script
 * starts, as with any buffer.
 */
export function recordingBuffer(): TraceBuffer | undefined {
  if (attached !== undefined) return attached;
  const handle = (workerData as Record<string, unknown> | null | undefined)?.[RECORD_WORKER_DATA_KEY] as TraceBufferHandle | undefined;
  if (handle === undefined) return undefined;
  attached = TraceBuffer.attach(handle);
  return attached;
}

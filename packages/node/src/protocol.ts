/**
 * The control channel's wire protocol: the operations the owner serves, the mapping descriptor a
 * consumer receives, which comlink requests the owner accepts, and how an error crosses the
 * channel with its `code`.
 *
 * The transport is comlink over a `node:worker_threads` `MessagePort` (see `endpoint.ts`). Each
 * operation is one comlink `APPLY` of a top-level function; nothing else (property reads and
 * writes, `new`, new endpoints) is accepted, so a consumer reaches the buffer only through the
 * operations below.
 *
 * @packageDocumentation
 */
import {
  AbortError,
  ErrorCode,
  type CpuStats,
  type ErrorCodeName,
  TraceBufferError,
  type TraceBufferConfig,
} from '@tracebuf/core';
import { type TransferHandler, transferHandlers } from 'comlink';

/**
 * What a consumer receives from `map(cpu)`: enough to read the CPU buffer's mapping in its own
 * thread, and nothing to change it with. `data` is the CPU buffer's data SharedArrayBuffer — the
 * kernel mmap layout (meta page, then the sub-buffers) — and never its private control block.
 */
export interface MappingDescriptor {
  /** The owner's id for this mapping (per channel); the key of `ioctl` and `unmap`. */
  readonly mappingId: number;
  /** The CPU buffer mapped. */
  readonly cpu: number;
  /** The mapped object: meta page at byte 0, sub-buffer `k` at `metaPageSize + k * subbufSize`. */
  readonly data: SharedArrayBuffer;
  /** Sub-buffer size including its 16-byte header. */
  readonly subbufSize: number;
  /** Sub-buffers in the mapping (ring + reader). */
  readonly nrSubbufs: number;
  /** Bytes before sub-buffer 0 (one sub-buffer). */
  readonly metaPageSize: number;
}

/** Options of the `waitAsync` operation (an `AbortSignal` cannot cross; see `cancelWait`). */
export interface ControlWaitOptions {
  /** Give up after this many milliseconds (default: wait forever). */
  readonly timeoutMs?: number;
}

/**
 * The operations the owner serves. Each runs in the owner's thread on its `TraceBuffer` and may
 * throw a `TraceBufferError`, which reaches the caller with the same class, code and message.
 */
export interface ControlApi {
  /** The buffer's configuration. */
  config(): TraceBufferConfig;
  /** `tb.cpus`: the cpu slots online now (slots come online while the buffer runs). */
  cpus(): number;
  /** `tb.map(cpu)` in the owner, kept under a new mapping id; `EINVAL` for a cpu out of range. */
  map(cpu: number): MappingDescriptor;
  /** Unmaps a mapping of this channel. Idempotent: an unknown id is ignored. */
  unmap(mappingId: number): void;
  /** `mapping.ioctl(cmd)` in the owner (GET_READER, wake); `ENODEV` for an unknown mapping id. */
  ioctl(mappingId: number, cmd: number): number;
  /**
   * `mapping.waitAsync()` in the owner: resolves `true` when woken or at the watermark, `false` on
   * timeout. `waitId` is the caller's name for this wait, for {@link ControlApi.cancelWait}.
   */
  waitAsync(mappingId: number, waitId: number, options: ControlWaitOptions): Promise<boolean>;
  /** Rejects the pending wait `waitId` with an `AbortError`; no-op when it already ended. */
  cancelWait(waitId: number): void;
  /** `tb.setRecording(on)`. */
  setRecording(on: boolean): void;
  /** `tb.recording`. */
  recording(): boolean;
  /** `tb.reset(cpu)`: every CPU buffer, or only `cpu`. */
  reset(cpu?: number): void;
  /** `tb.stats(cpu)`. */
  stats(cpu: number): CpuStats;
  /** `tb.wake(cpu)`: wakes every waiter of `cpu`. */
  wake(cpu: number): void;
}

/** Every operation name, once (the record type makes the compiler check the list is complete). */
const OPERATIONS: Readonly<Record<keyof ControlApi, true>> = {
  config: true,
  cpus: true,
  map: true,
  unmap: true,
  ioctl: true,
  waitAsync: true,
  cancelWait: true,
  setRecording: true,
  recording: true,
  reset: true,
  stats: true,
  wake: true,
};

/** True when `name` is one of the {@link ControlApi} operations. */
export function isOperation(name: unknown): name is keyof ControlApi {
  return typeof name === 'string' && Object.hasOwn(OPERATIONS, name);
}

// ------------------------------------------------------------------------------------------------
// Requests the owner accepts
// ------------------------------------------------------------------------------------------------

/** comlink's message types (its `MessageType` is a `const enum`, not importable at run time). */
const APPLY = 'APPLY';
const RELEASE = 'RELEASE';
/** comlink's wire-value types. */
const RAW = 'RAW';
const HANDLER = 'HANDLER';

/**
 * Why the owner refuses the comlink request `data`, or `undefined` when it serves it: a call of
 * one operation with plain (structured-clone) arguments, or comlink's release of the proxy.
 * Handler-encoded arguments are refused too: decoding them runs code outside comlink's try block.
 */
export function refusal(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object') return undefined; // comlink ignores these
  const msg = data as { type?: unknown; path?: unknown; argumentList?: unknown };
  if (msg.type === RELEASE) return undefined;
  if (msg.type !== APPLY) return `not a control operation call: type=${String(msg.type)}`;
  const path = msg.path;
  if (!Array.isArray(path) || path.length !== 1 || !isOperation(path[0])) {
    return `unknown control operation: path=${JSON.stringify(path)}`;
  }
  const args = msg.argumentList ?? [];
  if (!Array.isArray(args) || !args.every((a) => (a as { type?: unknown } | null)?.type === RAW)) {
    return `control arguments must be plain values: operation=${path[0] as string}`;
  }
  return undefined;
}

/** The comlink reply to request `id` that throws `error` in the caller (what comlink sends). */
export function thrownReply(id: unknown, error: unknown): { id: unknown; type: string; name: string; value: SerializedThrown } {
  return { id, type: HANDLER, name: 'throw', value: serializeThrown(error) };
}

// ------------------------------------------------------------------------------------------------
// Errors across the channel
// ------------------------------------------------------------------------------------------------

/** An error as it crosses the channel: comlink's `{ message, name, stack }` plus `code`. */
export interface WireError {
  /** The error's `name` (`TraceBufferError`, `AbortError`, `TypeError`, ...). */
  readonly name: string;
  /** The error's whole message (for a `TraceBufferError`, starting with its code). */
  readonly message: string;
  /** The stack in the thread that threw. */
  readonly stack?: string;
  /** The error's `code` when it has one (`EINVAL`, `ABORT_ERR`, `ERR_...`). */
  readonly code?: unknown;
}

/** comlink's serialized form of a thrown value (same shape, so either side may be plain comlink). */
export type SerializedThrown = { readonly isError: true; readonly value: WireError } | { readonly isError: false; readonly value: unknown };

/** Serializes a thrown value as comlink does, keeping the error's `code`. */
export function serializeThrown(value: unknown): SerializedThrown {
  if (!(value instanceof Error)) return { isError: false, value };
  const wire: { name: string; message: string; stack?: string; code?: unknown } = { name: value.name, message: value.message };
  if (value.stack !== undefined) wire.stack = value.stack;
  const code = (value as { code?: unknown }).code;
  if (code !== undefined) wire.code = code;
  return { isError: true, value: wire };
}

const ERROR_CODES: ReadonlySet<unknown> = new Set(Object.values(ErrorCode));

function isErrorCode(code: unknown): code is ErrorCodeName {
  return ERROR_CODES.has(code);
}

/**
 * The error a caller sees for `wire`: a `TraceBufferError` (same code and message) or core's
 * `AbortError` when that is what the owner threw, otherwise an `Error` with the wire fields
 * (including `code`) as comlink makes it. The stack is the owner's, as comlink does.
 */
export function reviveError(wire: WireError): Error {
  let error: Error;
  if (wire.name === 'TraceBufferError' && isErrorCode(wire.code)) {
    const prefix = `${wire.code}: `;
    error = new TraceBufferError(wire.code, wire.message.startsWith(prefix) ? wire.message.slice(prefix.length) : wire.message);
    error.message = wire.message;
  } else if (wire.name === 'AbortError') {
    error = new AbortError(wire.message);
  } else {
    return Object.assign(new Error(wire.message), wire);
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

function deserializeThrown(serialized: SerializedThrown): never {
  if (serialized.isError) throw reviveError(serialized.value);
  throw serialized.value;
}

/** Marks comlink's `throw` handler once it is ours (shared by every copy of this package). */
const KEEPS_CODES = Symbol.for('@tracebuf/node.keepsErrorCodes');

/**
 * Replaces comlink's `throw` transfer handler in this thread with one that keeps `code` and
 * revives `TraceBufferError`/`AbortError` (comlink alone sends `{ message, name, stack }`).
 * The wire format stays comlink's, so it talks to threads that use plain comlink too; other
 * errors come out as comlink makes them, plus `code`. Idempotent; `exposeControl` and
 * `connectControl` call it, so each side of a control channel has it.
 */
export function keepErrorCodes(): void {
  const original = transferHandlers.get('throw');
  if (original === undefined) throw new Error('comlink has no "throw" transfer handler to replace (unsupported comlink version)');
  if (KEEPS_CODES in original) return;
  const handler: TransferHandler<unknown, SerializedThrown> & { readonly [KEEPS_CODES]: true } = {
    // Only comlink knows its private "thrown" marker: keep its test.
    canHandle: (value): value is unknown => original.canHandle(value),
    serialize: (thrown) => [serializeThrown((thrown as { value: unknown }).value), []],
    deserialize: deserializeThrown,
    [KEEPS_CODES]: true,
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}

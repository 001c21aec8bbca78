/**
 * `@tracebuf/node`: tracebuf across Node.js worker threads — the comlink control channel through
 * which a consumer that holds only a `MessagePort` maps CPU buffers and drives GET_READER in the
 * thread that owns the buffer. (Producer pools for piscina are in `@tracebuf/node/piscina`.)
 *
 * @packageDocumentation
 */
export { ControlClient, connectControl, exposeControl } from './control.js';
export type { ConnectOptions, ControlDisposer } from './control.js';
export { RemoteMapping } from './remote-mapping.js';
/** Re-exported from `@tracebuf/core` (it decodes the meta page for `RemoteMapping` too). */
export { decodeMeta } from '@tracebuf/core';
export { keepErrorCodes, reviveError, serializeThrown } from './protocol.js';
export type { ControlApi, ControlWaitOptions, MappingDescriptor, SerializedThrown, WireError } from './protocol.js';
export { portEndpoint } from './endpoint.js';
export type { MessageFilter } from './endpoint.js';
export { RECORD_WORKER_DATA_KEY, recordingBuffer } from './record.js';

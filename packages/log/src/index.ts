/**
 * `@tracebuf/log`: high-throughput in-process logging with pino's shape. Each log call stores a
 * binary record (level, message format ID, arguments) in its thread's ring of a tracebuf buffer,
 * as the kernel's `trace_printk` does; a consumer thread formats pino-compatible NDJSON, so
 * pino's tools (`pino-pretty`, log shippers) read it unchanged.
 *
 * ```ts
 * const tb = TraceBuffer.create({ cpus: 4 });
 * const log = createLogger(tb, { name: 'app' });             // in any thread (TraceBuffer.attach there)
 * log.info({ user: 42 }, 'logged in after %d ms', 12);
 * const consumer = new LogConsumer(tb).installExitDrain();   // in one thread: stdout by default
 * await consumer.run({ signal });
 * ```
 *
 * @packageDocumentation
 */
export { LEVELS, Logger, createLogger } from './logger.js';
export type { LevelName, LogFn, LoggerOptions } from './logger.js';
export { LogConsumer, LogLineEvent, interpolate, tracebufDestination } from './consumer.js';
export type { LogConsumerOptions, LogConsumerStats } from './consumer.js';
export { Decoder, Encoder, LogEvent, Tag, safeJson } from './record.js';
export type { Decoded } from './record.js';

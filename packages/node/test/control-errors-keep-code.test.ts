/**
 * Errors keep their code across the control channel (DESIGN.md §3: "Error codes survive the
 * channel"; comlink alone sends only { message, name, stack }). A TraceBufferError thrown in the
 * owner rejects the caller's promise as a TraceBufferError with the same code and the same
 * message as the same call makes in the owner's thread. Requests that are not calls of a control
 * operation are refused with ENOTTY and change nothing.
 */
import { once } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { TRACE_MMAP_IOCTL_GET_READER, TraceBuffer, TraceBufferError } from '@tracebuf/core';
import {
  type ControlApi,
  type ControlClient,
  type SerializedThrown,
  connectControl,
  exposeControl,
  keepErrorCodes,
  portEndpoint,
  reviveError,
  serializeThrown,
} from '@tracebuf/node';
import { expose, transferHandlers, wrap } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups = new Set<() => void>();
afterEach(() => {
  for (const c of cleanups) c();
  cleanups.clear();
});

function setup(): { tb: TraceBuffer; client: ControlClient; rawPort: MessagePort } {
  const tb = TraceBuffer.create({ cpus: 2, subbufSize: 4096, nrSubbufs: 4 });
  const channel = new MessageChannel();
  const raw = new MessageChannel();
  const disposeClient = exposeControl(tb, channel.port1);
  const disposeRaw = exposeControl(tb, raw.port1);
  const client = connectControl(channel.port2);
  cleanups.add(() => {
    client.close();
    disposeClient();
    disposeRaw();
    raw.port2.close();
  });
  return { tb, client, rawPort: raw.port2 };
}

/** What `fn` throws, synchronously or as a rejection. */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** Asserts `remote` is a TraceBufferError like `local` (same code and message) with `code`. */
function expectSameError(remote: unknown, local: unknown, code: string): void {
  expect(local).toBeInstanceOf(TraceBufferError);
  expect(remote).toBeInstanceOf(TraceBufferError);
  expect((remote as TraceBufferError).code).toBe(code);
  expect((local as TraceBufferError).code).toBe(code);
  expect((remote as TraceBufferError).message).toBe((local as TraceBufferError).message);
  expect((remote as TraceBufferError).name).toBe('TraceBufferError');
}

/** Sends one raw comlink message on `port` and returns the reply. */
async function rawRequest(port: MessagePort, message: Record<string, unknown>): Promise<{ id: unknown; type: string; name?: string; value: unknown }> {
  const reply = once(port, 'message');
  port.postMessage(message);
  const [data] = (await reply) as [{ id: unknown; type: string; name?: string; value: unknown }];
  return data;
}

describe('errors keep their code across the control channel', () => {
  it('EINVAL: a cpu out of range (map, stats, reset) and a bad argument', async () => {
    const { tb, client } = setup();
    expectSameError(await thrown(() => client.map(2)), await thrown(() => tb.map(2)), 'EINVAL');
    expectSameError(await thrown(() => client.stats(-1)), await thrown(() => tb.stats(-1)), 'EINVAL');
    expectSameError(await thrown(() => client.reset(1.5)), await thrown(() => tb.reset(1.5)), 'EINVAL');
    const notBoolean = 'yes' as unknown as boolean;
    expectSameError(await thrown(() => client.setRecording(notBoolean)), await thrown(() => tb.setRecording(notBoolean)), 'EINVAL');
    // A rejected call changed nothing.
    expect(tb.recording).toBe(true);
    expect(tb.cpuBuffer(0).mappings() + tb.cpuBuffer(1).mappings()).toBe(0);
  });

  it('ENOTTY: an unknown ioctl command, from the owner mapping', async () => {
    const { tb, client } = setup();
    const m = await client.map(0);
    const local = tb.map(0);
    expectSameError(await thrown(() => m.ioctl(0x1234)), await thrown(() => local.ioctl(0x1234)), 'ENOTTY');
    local.unmap();
    // ENOTTY wins over ENODEV, as in core.
    await m.unmap();
    expectSameError(await thrown(() => m.ioctl(0x1234)), await thrown(() => local.ioctl(0x1234)), 'ENOTTY');
  });

  it('ENODEV: GET_READER and waits after unmap', async () => {
    const { tb, client } = setup();
    const m = await client.map(1);
    const local = tb.map(1);
    await m.unmap();
    local.unmap();
    expectSameError(
      await thrown(() => m.ioctl(TRACE_MMAP_IOCTL_GET_READER)),
      await thrown(() => local.ioctl(TRACE_MMAP_IOCTL_GET_READER)),
      'ENODEV',
    );
    expectSameError(await thrown(() => m.waitAsync()), await thrown(() => local.waitAsync()), 'ENODEV');
  });

  it('ENODEV from the owner: an ioctl on a mapping id the channel does not have', async () => {
    const { rawPort } = setup();
    const api = wrap<ControlApi>(portEndpoint(rawPort));
    const descriptor = await api.map(0);
    await api.unmap(descriptor.mappingId);
    const err = await thrown(() => api.ioctl(descriptor.mappingId, TRACE_MMAP_IOCTL_GET_READER));
    expect(err).toBeInstanceOf(TraceBufferError);
    expect((err as TraceBufferError).code).toBe('ENODEV');
  });

  it('requests other than operation calls are refused with ENOTTY and change nothing', async () => {
    const { tb, rawPort } = setup();
    const refused = [
      { id: 'get', type: 'GET', path: ['map'] },
      { id: 'set', type: 'SET', path: ['map'], value: { type: 'RAW', value: 1 } },
      { id: 'deep', type: 'APPLY', path: ['map', 'call'], argumentList: [] },
      { id: 'proto', type: 'SET', path: ['map', '__proto__', 'call'], value: { type: 'RAW', value: 1 } },
      { id: 'unknown', type: 'APPLY', path: ['snapshot'], argumentList: [] },
      { id: 'new', type: 'CONSTRUCT', path: ['map'], argumentList: [] },
      { id: 'endpoint', type: 'ENDPOINT' },
      { id: 'handler-arg', type: 'APPLY', path: ['stats'], argumentList: [{ type: 'HANDLER', name: 'throw', value: { isError: false, value: 0 } }] },
    ];
    for (const message of refused) {
      const reply = await rawRequest(rawPort, message);
      expect(reply.id).toBe(message.id);
      expect(reply.type).toBe('HANDLER');
      expect(reply.name).toBe('throw');
      const err = reviveError((reply.value as Extract<SerializedThrown, { isError: true }>).value);
      expect(err, message.id).toBeInstanceOf(TraceBufferError);
      expect((err as TraceBufferError).code).toBe('ENOTTY');
    }
    // The operations still work, and nothing was mapped or changed.
    const ok = await rawRequest(rawPort, { id: 'ok', type: 'APPLY', path: ['recording'], argumentList: [] });
    expect(ok).toMatchObject({ id: 'ok', type: 'RAW', value: true });
    expect(typeof Function.prototype.call).toBe('function');
    expect(tb.cpuBuffer(0).mappings()).toBe(0);
  });

  it('any error thrown through comlink keeps its code once keepErrorCodes() is installed', async () => {
    keepErrorCodes();
    keepErrorCodes(); // idempotent: the same handler stays
    const installed = transferHandlers.get('throw');
    keepErrorCodes();
    expect(transferHandlers.get('throw')).toBe(installed);

    const { port1, port2 } = new MessageChannel();
    cleanups.add(() => {
      port1.close();
      port2.close();
    });
    const failing = {
      fail(): never {
        throw Object.assign(new RangeError('too far: x=3'), { code: 'ERR_OUT_OF_RANGE' });
      },
    };
    expose(failing, portEndpoint(port1));
    const remote = wrap<typeof failing>(portEndpoint(port2));
    const err = await thrown(() => remote.fail());
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'RangeError', message: 'too far: x=3', code: 'ERR_OUT_OF_RANGE' });
  });

  it('the wire format stays comlink: a plain comlink error and a thrown non-error still decode', () => {
    // What comlink's own handler sends (no code).
    const plain = reviveError({ name: 'TypeError', message: 'bad', stack: 'TypeError: bad' });
    expect(plain).toMatchObject({ name: 'TypeError', message: 'bad' });
    expect(serializeThrown(42)).toEqual({ isError: false, value: 42 });
    const wire = serializeThrown(new TraceBufferError('EBUSY', 'cpu slot already claimed: cpu=0'));
    expect(wire.isError).toBe(true);
    const revived = reviveError((wire as Extract<SerializedThrown, { isError: true }>).value);
    expect(revived).toBeInstanceOf(TraceBufferError);
    expect(revived).toMatchObject({ code: 'EBUSY', message: 'EBUSY: cpu slot already claimed: cpu=0' });
  });
});

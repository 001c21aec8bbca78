/**
 * A comlink `Endpoint` over a `node:worker_threads` `MessagePort` (comlink speaks the DOM's
 * `addEventListener`/`MessageEvent`; Node's port is an event emitter of message values).
 *
 * @packageDocumentation
 */
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { Endpoint } from 'comlink';

/**
 * Called with every incoming message before comlink sees it; returning `true` consumes it (the
 * owner uses this to answer refused requests itself).
 */
export type MessageFilter = (data: unknown) => boolean;

/**
 * Wraps `port` as a comlink endpoint. Listening starts the port and keeps the thread alive (Node
 * refs a port that has a `message` listener) until the port is closed or `unref()`ed; closing is
 * the caller's job: comlink closes only DOM `MessagePort`s.
 */
export function portEndpoint(port: MessagePort, filter?: MessageFilter): Endpoint {
  const listeners = new Map<EventListenerOrEventListenerObject, (data: unknown) => void>();
  return {
    postMessage(message: unknown, transfer?: Transferable[]): void {
      port.postMessage(message, transfer as TransferListItem[] | undefined);
    },
    addEventListener(_type: string, listener: EventListenerOrEventListenerObject): void {
      if (listeners.has(listener)) return;
      const onMessage = (data: unknown): void => {
        if (filter?.(data) === true) return;
        const event = { data } as MessageEvent;
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      listeners.set(listener, onMessage);
      port.on('message', onMessage);
    },
    removeEventListener(_type: string, listener: EventListenerOrEventListenerObject): void {
      const onMessage = listeners.get(listener);
      if (onMessage === undefined) return;
      listeners.delete(listener);
      port.off('message', onMessage);
    },
  };
}

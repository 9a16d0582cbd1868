import { useEffect, useRef, useState } from 'preact/hooks';
import { API } from './api.ts';

/** What the hub's event stream carries (broker/src/presence.ts, broker/src/eventBus.ts). */
export type PresenceEvent =
  | { type: 'gateway_online'; district: string; school: string; gateway: string; bdSeq: number; ts: number }
  | { type: 'gateway_offline'; district: string; school: string; gateway: string; bdSeq: number; ts: number; devicesUnknown: number }
  | { type: 'device_state'; district: string; school: string; gateway: string; device: string; kind: string; from: string | null; to: string; ts: number };
export interface CommandOutcome {
  id: string;
  district: string;
  school: string;
  gateway: string;
  device: string;
  action: string;
  status: string;
  detail?: string;
}
interface Events {
  presence: PresenceEvent;
  command: CommandOutcome;
}
type Listener<K extends keyof Events> = (e: Events[K]) => void;

/**
 * One EventSource for the whole console (the hub allows a user a few streams, and a page must
 * not open one per view); views subscribe by event type. EventSource sends the session cookie.
 */
class LiveStream {
  #source: EventSource | undefined;
  readonly #listeners: { [K in keyof Events]: Set<Listener<K>> } = { presence: new Set(), command: new Set() };
  readonly #status = new Set<(up: boolean) => void>();
  up = false;

  open(): void {
    if (this.#source) return;
    const s = new EventSource(`${API}/events`);
    this.#source = s;
    s.onopen = () => this.#setUp(true);
    s.onerror = () => this.#setUp(false);
    for (const type of ['presence', 'command'] as const) {
      s.addEventListener(type, (m) => {
        const data = JSON.parse((m as MessageEvent<string>).data) as never;
        for (const l of this.#listeners[type]) (l as (e: never) => void)(data);
      });
    }
  }

  close(): void {
    this.#source?.close();
    this.#source = undefined;
    this.#setUp(false);
  }

  on<K extends keyof Events>(type: K, cb: Listener<K>): () => void {
    (this.#listeners[type] as Set<Listener<K>>).add(cb);
    return () => void (this.#listeners[type] as Set<Listener<K>>).delete(cb);
  }

  onStatus(cb: (up: boolean) => void): () => void {
    this.#status.add(cb);
    return () => void this.#status.delete(cb);
  }

  #setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    for (const cb of this.#status) cb(up);
  }
}

export const live = new LiveStream();

/** Calls `cb` (always the latest one) for each event of `type` while the view is shown. */
export function useLive<K extends keyof Events>(type: K, cb: Listener<K>): void {
  const ref = useRef(cb);
  ref.current = cb;
  useEffect(() => live.on(type, (e) => ref.current(e)), [type]);
}

export function useLiveUp(): boolean {
  const [up, setUp] = useState(live.up);
  useEffect(() => live.onStatus(setUp), []);
  return up;
}

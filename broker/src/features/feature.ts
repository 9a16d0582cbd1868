/**
 * One feature of the hub: it owns its state, subscribes to the bus in start() and lets go of
 * everything (listeners, timers) in stop(). The composition root (hub.ts) starts features in
 * order and stops them in reverse.
 */
export interface Feature {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

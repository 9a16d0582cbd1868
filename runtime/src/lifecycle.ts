/** Where a service is in its life: each may start once and stop once. */
export type LifecycleState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** What went wrong, for the part's own error class and code. */
export type LifecycleFault = 'started_twice' | 'not_started' | 'stopped';

/**
 * The lifecycle rules every service and feature shares (constructors only assign,
 * I/O starts in start(), stop() is idempotent): a second start() and a use before start() or
 * after stop() are errors with a code of the part's catalogue, never a silent no-op.
 */
export class Lifecycle {
  #state: LifecycleState = 'new';
  readonly #name: string;
  readonly #fault: (f: LifecycleFault, message: string) => Error;

  constructor(name: string, fault: (f: LifecycleFault, message: string) => Error) {
    this.#name = name;
    this.#fault = fault;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  /** Call first in start(): throws if it was started before. */
  beginStart(): void {
    if (this.#state !== 'new') throw this.#fault('started_twice', `${this.#name} was already started (${this.#state})`);
    this.#state = 'starting';
  }

  /** Call last in start(). */
  started(): void {
    if (this.#state === 'starting') this.#state = 'running';
  }

  /**
   * Call in stop(): false when there is nothing to do — already stopping or stopped, or never
   * started (then it is stopped at once: nothing to undo, and it cannot be started later).
   */
  beginStop(): boolean {
    if (this.#state === 'stopping' || this.#state === 'stopped') return false;
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return false;
    }
    this.#state = 'stopping';
    return true;
  }

  /** Call at the end of stop(). */
  stopped(): void {
    this.#state = 'stopped';
  }

  /** Throws unless running (or starting, when `duringStart`): for operations on a live service. */
  assertRunning(operation: string, duringStart = false): void {
    if (this.#state === 'running' || (duringStart && this.#state === 'starting')) return;
    if (this.#state === 'new' || this.#state === 'starting') throw this.#fault('not_started', `${this.#name}: ${operation} before start()`);
    throw this.#fault('stopped', `${this.#name}: ${operation} after stop()`);
  }
}

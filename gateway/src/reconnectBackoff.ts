export interface ReconnectBackoffConfig {
  /** The first retry's delay, and the shortest any retry waits. */
  reconnectMs: number;
  /** The longest any retry waits. */
  reconnectMaxMs: number;
}

/** Why the uplink is not connected, as `/health` shows it. */
export interface UplinkStatus {
  connected: boolean;
  /** Absent while connected. */
  reason?: string;
  /** Until the next attempt; absent while connected or while an attempt is under way. */
  nextAttemptInMs?: number;
}

/** MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3]. */
const CONNACK_REASONS: Readonly<Record<number, string>> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

/**
 * Why an attempt failed, from the MQTT client's error: a CONNACK refusal (mqtt.js sets the
 * return code as `code`, a number) or a socket error (a string code such as ECONNREFUSED).
 */
export function failureReason(err: { message: string; code?: unknown }): { reason: string; connack?: number } {
  if (typeof err.code === 'number') {
    return { reason: `refused: CONNACK ${err.code} ${CONNACK_REASONS[err.code] ?? 'unknown'}`, connack: err.code };
  }
  return { reason: `unreachable: ${typeof err.code === 'string' ? err.code : err.message}` };
}

/**
 * When the uplink tries again, with the clock and the randomness passed in (no timers, no I/O):
 * exponential back-off with full jitter — the n-th consecutive failure waits a uniform draw in
 * [0, min(max, base·2ⁿ)), never less than the base — so a refused gateway does not hammer the
 * hub and a fleet whose hub returns does not reconnect all at once. A connection resets it.
 * It also keeps why the uplink is down, for `/health`.
 */
export class ReconnectBackoff {
  readonly #cfg: ReconnectBackoffConfig;
  /** Delays handed out since the last connection (the exponent of the next). */
  #step = 0;
  #connected = false;
  #reason = 'connecting';
  /** The delay the current attempt waits if it fails. */
  #planned: number;
  /** When the next attempt starts; undefined while one is under way or connected. */
  #nextAt: number | undefined;
  /** Whether the current attempt's failure has been recorded (an error and a close both report it). */
  #failed = false;

  constructor(cfg: ReconnectBackoffConfig) {
    this.#cfg = cfg;
    this.#planned = cfg.reconnectMs;
  }

  /** The ceiling of the next delay, before jitter. */
  ceiling(step: number): number {
    return Math.min(this.#cfg.reconnectMaxMs, this.#cfg.reconnectMs * 2 ** Math.min(step, 52));
  }

  /** An attempt begins: returns how long to wait after it if it fails. */
  attempt(random: number): number {
    this.#connected = false;
    this.#failed = false;
    this.#nextAt = undefined;
    this.#planned = this.#draw(random);
    return this.#planned;
  }

  /** The attempt succeeded: the back-off starts over. Returns how long to wait if this session drops. */
  connected(random: number): number {
    this.#step = 0;
    this.#connected = true;
    this.#failed = false;
    this.#nextAt = undefined;
    this.#planned = this.#draw(random);
    return this.#planned;
  }

  /**
   * The attempt (or the session) ended at `now` for `reason`. Returns the delay until the next
   * attempt the first time an attempt reports its end, undefined after (so it is logged once).
   */
  failed(now: number, reason: string): number | undefined {
    if (this.#failed) return undefined;
    this.#failed = true;
    this.#connected = false;
    this.#reason = reason;
    this.#nextAt = now + this.#planned;
    return this.#planned;
  }

  status(now: number): UplinkStatus {
    if (this.#connected) return { connected: true };
    return this.#nextAt === undefined
      ? { connected: false, reason: this.#reason }
      : { connected: false, reason: this.#reason, nextAttemptInMs: Math.max(0, this.#nextAt - now) };
  }

  #draw(random: number): number {
    const ceiling = this.ceiling(this.#step++);
    return Math.max(this.#cfg.reconnectMs, Math.floor(random * ceiling));
  }
}

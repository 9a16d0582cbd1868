/**
 * Two devices sharing one gateway's credentials knock each other off for as long as both run:
 * each login takes over the other's session [MQTT-3.1.4-2], and each takeover is a birth, a
 * death and two presence events. One takeover is normal (a gateway that restarted before its old
 * session timed out); `maxTakeovers` within `windowMs` are not. Then the identity is held: while
 * it has a live session, a further login of it is refused (CONNACK 2, identifier rejected) so the
 * session in place stays, and each refusal extends the hold. Once the live session is gone, a
 * login is accepted again as usual, so a device that was replaced is not locked out.
 */
export interface TakeoverDamping {
  /** Takeovers of one identity within `windowMs` that mean two devices share it. */
  maxTakeovers: number;
  windowMs: number;
  /** How long further logins are refused after the last refusal (or the takeover that started it). */
  holdMs: number;
}

export const DEFAULT_TAKEOVER_DAMPING: Readonly<TakeoverDamping> = {
  maxTakeovers: 3,
  windowMs: 60_000,
  holdMs: 300_000,
};

export type TakeoverVerdict =
  /** The new connection takes over; `startsHold`: this takeover was the one too many. */
  | { outcome: 'takeover'; damped: boolean; startsHold: boolean }
  | { outcome: 'refused'; damped: true };

/** Pure and clock-injected: callers pass `now`. Memory is bounded by identities seen taking over within a window or a hold. */
export class TakeoverDamper {
  readonly #s: TakeoverDamping;
  readonly #recent = new Map<string, number[]>();
  readonly #heldUntil = new Map<string, number>();

  constructor(settings: TakeoverDamping) {
    this.#s = settings;
  }

  /** A login of `id` succeeded while `id` has a live session: take over, or refuse. */
  login(id: string, now: number): TakeoverVerdict {
    this.#sweep(now);
    const until = this.#heldUntil.get(id);
    if (until !== undefined && now < until) {
      this.#heldUntil.set(id, now + this.#s.holdMs);
      return { outcome: 'refused', damped: true };
    }
    const times = (this.#recent.get(id) ?? []).filter((t) => now - t < this.#s.windowMs);
    times.push(now);
    this.#recent.set(id, times);
    const startsHold = times.length >= this.#s.maxTakeovers;
    if (startsHold) {
      this.#heldUntil.set(id, now + this.#s.holdMs);
      this.#recent.delete(id);
    }
    return { outcome: 'takeover', damped: startsHold, startsHold };
  }

  /** Whether `id` is held at `now`. */
  isHeld(id: string, now: number): boolean {
    const until = this.#heldUntil.get(id);
    return until !== undefined && now < until;
  }

  #sweep(now: number): void {
    for (const [id, until] of this.#heldUntil) if (now >= until) this.#heldUntil.delete(id);
    for (const [id, times] of this.#recent) if (times.every((t) => now - t >= this.#s.windowMs)) this.#recent.delete(id);
  }
}

/** What the command relay may ask of the LAN sessions (Intake owns and writes them). */
export interface LanSessionsView {
  /** Whether the live LAN session `clientId` has reported `device`. */
  reports(clientId: string, device: string): boolean;
  /** Sessions tracked (live sessions that sent a sample). */
  readonly size: number;
}

/**
 * Which devices each live LAN session (MQTT client id) has reported, so a clean goodbye marks
 * them off and only a device's own session may answer its commands. An entry lives from the
 * session's first sample to its end, and at most `max` sessions are tracked at once, so a LAN
 * client cycling client ids cannot grow it.
 */
export class LanSessions implements LanSessionsView {
  readonly #max: number;
  readonly #devices = new Map<string, Set<string>>();

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * The session `clientId` sent a sample: its entry, created if there is room; undefined when
   * `max` sessions are tracked already. Taken when the sample arrives, so a sample still being
   * appended when its session ends adds to an entry already gone, never to a new one.
   */
  entry(clientId: string): Set<string> | undefined {
    let set = this.#devices.get(clientId);
    if (!set) {
      if (this.#devices.size >= this.#max) return undefined;
      this.#devices.set(clientId, (set = new Set()));
    }
    return set;
  }

  /** The session ended: its devices, and the entry forgotten. */
  ended(clientId: string): ReadonlySet<string> {
    const set = this.#devices.get(clientId) ?? new Set<string>();
    this.#devices.delete(clientId);
    return set;
  }

  reports(clientId: string, device: string): boolean {
    return this.#devices.get(clientId)?.has(device) ?? false;
  }

  get size(): number {
    return this.#devices.size;
  }
}

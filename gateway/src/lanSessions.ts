/**
 * Which devices each LAN session (MQTT client id) has reported, so a clean goodbye marks them
 * off and only a device's own session may answer its commands.
 */
export class LanSessions {
  readonly #devices = new Map<string, Set<string>>();

  /** A sample of `device` was accepted on the session `clientId`. */
  reported(clientId: string, device: string): void {
    if (!clientId) return;
    let set = this.#devices.get(clientId);
    if (!set) this.#devices.set(clientId, (set = new Set()));
    set.add(device);
  }

  devicesOf(clientId: string): ReadonlySet<string> {
    return this.#devices.get(clientId) ?? new Set();
  }

  reports(clientId: string, device: string): boolean {
    return this.#devices.get(clientId)?.has(device) ?? false;
  }
}
